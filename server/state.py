"""What the server holds while it runs, handed to every tool call through the lifespan context."""

from __future__ import annotations

from dataclasses import dataclass

from seedance_mcp.server.config import Settings
from seedance_mcp.server.delivery import Deliverer
from seedance_mcp.server.generation import Generations
from seedance_mcp.server.jobs import JobManager


@dataclass(frozen=True)
class AppState:
    settings: Settings
    jobs: JobManager
    generations: Generations  # the one door every generation goes through
    deliverer: Deliverer
