# Defaults for the `flask` command (committed; nothing secret here). python-dotenv reads this
# file, then .env (written by `make db`, git-ignored), whenever `flask` runs from the project
# folder; a variable already set in the environment always wins. README, "Configuration".
FLASK_APP=wsgi
