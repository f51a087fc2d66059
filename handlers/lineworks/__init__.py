"""The LINE WORKS edge: message contents within LINE WORKS's limits (content.py) and the services' screens
rendered as such contents (render.py). Pure: no HTTP here (the client is bot/lineworks), no Telegram."""
