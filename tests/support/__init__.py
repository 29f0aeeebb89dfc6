"""What the tests share: the servers and gates they drive, the strategies they draw from, the leak guard."""
