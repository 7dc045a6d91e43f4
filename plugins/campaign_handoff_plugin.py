"""Register the project's Timetable with Airflow.

A DAG may only be serialized with a custom Timetable that a plugin lists, and the lookup is
by the class's import path: the DAGs import ``campaign_handoff.timetable.OffHoursTimetable``,
the very class listed here.
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from campaign_handoff.timetable import OffHoursTimetable


class CampaignHandoffPlugin(AirflowPlugin):
    name = "campaign_handoff"
    timetables: ClassVar[list[type]] = [OffHoursTimetable]
