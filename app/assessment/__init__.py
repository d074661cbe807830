"""网格员考核: monthly scores from the data, with weights an admin sets."""
