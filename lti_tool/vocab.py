"""LTI vocabularies in one place: claim URIs, message types, scopes, AGS progress values (with
their German labels) and content types."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext


class Claim(StrEnum):
    """Claim names of LTI 1.3 Core, Deep Linking 2.0, AGS 2.0 and NRPS 2.0."""

    MESSAGE_TYPE = "https://purl.imsglobal.org/spec/lti/claim/message_type"
    VERSION = "https://purl.imsglobal.org/spec/lti/claim/version"
    DEPLOYMENT_ID = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
    TARGET_LINK_URI = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
    RESOURCE_LINK = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
    ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
    CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"
    TOOL_PLATFORM = "https://purl.imsglobal.org/spec/lti/claim/tool_platform"
    LAUNCH_PRESENTATION = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
    CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
    LIS = "https://purl.imsglobal.org/spec/lti/claim/lis"
    DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
    AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
    NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


class MessageType(StrEnum):
    RESOURCE_LINK = "LtiResourceLinkRequest"
    DEEP_LINKING = "LtiDeepLinkingRequest"
    DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"


LTI_VERSION = "1.3.0"


class Scope(StrEnum):
    AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
    AGS_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
    AGS_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
    AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    NRPS_MEMBERSHIP = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


class ActivityProgress(StrEnum):
    INITIALIZED = "Initialized"
    STARTED = "Started"
    IN_PROGRESS = "InProgress"
    SUBMITTED = "Submitted"
    COMPLETED = "Completed"


class GradingProgress(StrEnum):
    FULLY_GRADED = "FullyGraded"
    PENDING = "Pending"
    PENDING_MANUAL = "PendingManual"
    FAILED = "Failed"
    NOT_READY = "NotReady"


#: German labels of the AGS progress values: a German page never shows the raw terms (the tool's
#: Notenbuch shows the module status instead, the demo LMS these).
ACTIVITY_PROGRESS_LABELS = {
    ActivityProgress.INITIALIZED: lazy_gettext("nicht begonnen"),
    ActivityProgress.STARTED: lazy_gettext("begonnen"),
    ActivityProgress.IN_PROGRESS: lazy_gettext("in Bearbeitung"),
    ActivityProgress.SUBMITTED: lazy_gettext("eingereicht"),
    ActivityProgress.COMPLETED: lazy_gettext("abgeschlossen"),
}
GRADING_PROGRESS_LABELS = {
    GradingProgress.FULLY_GRADED: lazy_gettext("bewertet"),
    GradingProgress.PENDING: lazy_gettext("Bewertung ausstehend"),
    GradingProgress.PENDING_MANUAL: lazy_gettext("Bewertung von Hand ausstehend"),
    GradingProgress.FAILED: lazy_gettext("Bewertung fehlgeschlagen"),
    GradingProgress.NOT_READY: lazy_gettext("noch keine Bewertung"),
}


def progress_label(activity_progress: str | None, grading_progress: str | None) -> str:
    """``("Completed", "FullyGraded")`` -> ``"abgeschlossen · bewertet"``; a value AGS does not
    know reads "unbekannt" rather than the raw term."""
    pairs: tuple[tuple[Mapping[Any, object], str | None], ...] = (
        (ACTIVITY_PROGRESS_LABELS, activity_progress),
        (GRADING_PROGRESS_LABELS, grading_progress),
    )
    return " · ".join(str(labels.get(value, _("unbekannt"))) for labels, value in pairs)


SCORE_CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_CONTENT_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_CONTENT_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULT_CONTAINER_CONTENT_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
MEMBERSHIP_CONTENT_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def role_local_name(role: str) -> str:
    """Return the local name of a role URI: ``...membership#Instructor`` -> ``Instructor``."""
    for separator in ("#", "/"):
        if separator in role:
            role = role.rsplit(separator, 1)[1]
    return role
