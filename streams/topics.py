"""Every topic of the pipeline, declared in one place (names from ``schemas.stages``).

Values travel as raw bytes (canonical JSON from ``schemas``): pydantic is the one codec, and
Faust's own serializers would only add a second, slower one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

import faust

from radar_base.security import kafka_python_kwargs
from radar_base.settings import Settings
from schemas import stages

DAY = timedelta(days=1)


@dataclass(frozen=True)
class TopicSpec:
    stage: str
    retention: timedelta
    partitions: int | None = None  # None: Settings.topic_partitions


SPECS: dict[str, TopicSpec] = {
    stages.POSTS_RAW: TopicSpec(stages.POSTS_RAW, 3 * DAY),
    stages.POSTS_DLQ: TopicSpec(stages.POSTS_DLQ, 14 * DAY, partitions=1),
    stages.POSTS_VALID: TopicSpec(stages.POSTS_VALID, 3 * DAY),
    stages.POSTS_SCORED: TopicSpec(stages.POSTS_SCORED, 3 * DAY),
    # brand.minutes and crisis.alerts share the posts.scored partition count (keyed by brand),
    # so Faust assigns the same partitions of all three to one worker (co-partitioning).
    stages.BRAND_MINUTES: TopicSpec(stages.BRAND_MINUTES, 30 * DAY),
    stages.CRISIS_ALERTS: TopicSpec(stages.CRISIS_ALERTS, 90 * DAY),
    # Few records, read whole by every worker at start (streams/app.py _Feedback): one
    # partition, kept ~forever (the learned state is rebuilt from it idempotently).
    stages.CRISIS_FEEDBACK: TopicSpec(stages.CRISIS_FEEDBACK, 3650 * DAY, partitions=1),
}


# Stage snapshots (streams/state.py): compacted, one partition, per app (= consumer group).
STATE_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(10 * 60 * 1000),  # roll often so old snapshots get compacted away
    "min.cleanable.dirty.ratio": "0.1",
}


def state_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}{settings.worker_id}-stage-state"


def declare(app: faust.App, settings: Settings) -> dict[str, faust.TopicT]:
    """Faust topic objects by stage name, with partitions and retention."""
    return {
        stage: app.topic(
            settings.topic(stage),
            partitions=spec.partitions or settings.topic_partitions,
            retention=spec.retention,
            replicas=settings.topic_replication_factor,
            config=settings.topic_configs(),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            internal=True,  # let the worker create the topic with these settings
        )
        for stage, spec in SPECS.items()
    }


def changelog_topic(settings: Settings) -> str:
    """The ``crisis-state`` table's changelog (Faust: ``<app id>-<table>-changelog``), where
    ``crisis-radar backfill`` also hands over the baselines it learned."""
    return f"{settings.topic_prefix}{settings.worker_id}-crisis-state-changelog"


def ensure_topics(settings: Settings, timeout_s: float = 30) -> list[str]:
    """Create missing topics before the worker subscribes: topics created by Faust during
    start-up miss the first group assignment (metadata race), and the worker then idles."""
    import time

    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.worker_id}-admin",
        **kafka_python_kwargs(settings),
    )
    # Every topic: the replicas and min.insync.replicas of the settings (1/1 on one broker).
    rf, common = settings.topic_replication_factor, settings.topic_configs()
    try:
        wanted = {settings.topic(s): spec for s, spec in SPECS.items()}
        missing = [name for name in wanted if name not in set(admin.list_topics())]
        if state_topic(settings) not in set(admin.list_topics()):
            missing.append(state_topic(settings))
        if changelog_topic(settings) not in set(admin.list_topics()):  # as Faust makes it
            topic = NewTopic(changelog_topic(settings), settings.topic_partitions, rf,
                             topic_configs={"cleanup.policy": "compact", **common})  # fmt: skip
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([topic])
        for name in missing:
            if name == state_topic(settings):
                topic = NewTopic(name, 1, rf, topic_configs={**STATE_TOPIC_CONFIG, **common})
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([topic])
                continue
            spec = wanted[name]
            ms = str(int(spec.retention.total_seconds() * 1000))
            topic = NewTopic(
                name,
                spec.partitions or settings.topic_partitions,
                rf,
                topic_configs={"retention.ms": ms, **common},
            )
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile elsewhere
                admin.create_topics([topic])
        deadline = time.monotonic() + timeout_s
        while missing and time.monotonic() < deadline:
            if set(missing) <= set(admin.list_topics()):
                break
            time.sleep(0.2)
        return missing
    finally:
        admin.close()
