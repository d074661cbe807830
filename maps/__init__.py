"""Map builders: pure functions that return folium objects (the web pages embed them).

The builders arrive with the web app; layers from the API are loaded in the browser.
"""
