"""The pages an operator browses a list by: every list with its health (members by status, opt-out
rate, last import), a list's Contacts tab and its Custom fields tab. They show every room of the app,
so they sit above them all; nothing imports them but the URLconf."""
