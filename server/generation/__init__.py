"""The one door every generation goes through, and the guard on the user's money before it."""
