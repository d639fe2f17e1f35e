"""What every surface of one `rag serve` process shares: settings, the loaded service, the
feedback store and the rate limiter (a budget per client on each of API, chat and widget)."""

from __future__ import annotations

from dataclasses import dataclass

from rag.service import RagService
from rag.settings import Settings
from ui.feedback import FeedbackStore
from ui.guards import RateLimiter


@dataclass(frozen=True)
class Context:
    settings: Settings
    service: RagService
    feedback: FeedbackStore
    limiter: RateLimiter

    @classmethod
    def create(cls, settings: Settings, service: RagService | None = None) -> Context:
        """Loads the service unless one is given (tests share one across apps)."""
        return cls(settings=settings, service=service or RagService(settings),
                   feedback=FeedbackStore(settings.feedback_path),
                   limiter=RateLimiter(settings.rate_limit))
