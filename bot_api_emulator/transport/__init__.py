"""How requests reach the emulator and updates leave it: HTTP, long polling, webhook delivery."""
