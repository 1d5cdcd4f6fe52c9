"""Dispatching due posts: the database is the queue of record; APScheduler only ticks and wakes it."""
