"""What an event is: its product, diagnostic level and purpose, with the reasons."""
