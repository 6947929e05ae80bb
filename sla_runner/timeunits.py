"""Time units: the engine's clock counts nanoseconds, histograms microseconds, people read
milliseconds and seconds. Every conversion factor, once."""

from typing import Final

NS_PER_US: Final = 1_000
NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000
US_PER_MS: Final = 1_000
