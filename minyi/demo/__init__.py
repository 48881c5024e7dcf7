"""The demo data set: a believable city, staff accounts and appeals in every state (`minyi demo`).

plan.py decides everything without a database (deterministic in the seed); runner.py plays the plan through
the real services. Texts come from our own phrase lists (phrases.py) and the city from city.py.
"""
