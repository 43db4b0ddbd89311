"""Admin messages go through the scrubber: a vendor's answer quoted in a message never shows a secret."""

from django.contrib.messages.storage.fallback import FallbackStorage
from django.utils.safestring import SafeData, mark_safe

from .scrub import scrub


class ScrubbingMessageStorage(FallbackStorage):
    def add(self, level, message, extra_tags=""):
        cleaned = scrub(str(message))
        if isinstance(message, SafeData):
            cleaned = mark_safe(cleaned)  # noqa: S308 - scrubbing only replaces text with "***"
        return super().add(level, cleaned, extra_tags)
