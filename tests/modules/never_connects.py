"""A module that starts but never connects to the agent."""

from wire import forever

forever()
