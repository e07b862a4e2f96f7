"""Every table of the domain, one module per area; importing this package registers them all."""

from .catalog import CatalogModule, CatalogUnit, ModuleKind, UnitKind, UnitVersion
from .course import CourseModule, CourseModuleMember
from .gradebook import GradebookOutbox, OutboxState
from .grading import DECISION_LABELS, Decision, GradingDecision
from .municipality import MunicipalitySource, NavigatorMunicipality
from .privacy import PrivacyAction, PrivacyActor, PrivacyAudit
from .progress import UnitProgress, UnitState
from .project import (
    MilestoneState,
    Project,
    ProjectConsent,
    ProjectCourseSetting,
    ProjectMember,
    ProjectMilestone,
    ProjectNote,
    ProjectRevision,
    ProjectStatus,
    SizeClass,
)
from .quiz import QuizAttempt
from .roster import (
    CourseMembership,
    LotseGrant,
    LotseRoleDeployment,
    MembershipSource,
    MembershipStatus,
    RosterSync,
)
from .submission import EDITABLE_STATES, Submission, SubmissionFile, SubmissionState

__all__ = [
    "DECISION_LABELS",
    "EDITABLE_STATES",
    "CatalogModule",
    "CatalogUnit",
    "CourseMembership",
    "CourseModule",
    "CourseModuleMember",
    "Decision",
    "GradebookOutbox",
    "GradingDecision",
    "LotseGrant",
    "LotseRoleDeployment",
    "MembershipSource",
    "MembershipStatus",
    "MilestoneState",
    "ModuleKind",
    "MunicipalitySource",
    "NavigatorMunicipality",
    "OutboxState",
    "PrivacyAction",
    "PrivacyActor",
    "PrivacyAudit",
    "Project",
    "ProjectConsent",
    "ProjectCourseSetting",
    "ProjectMember",
    "ProjectMilestone",
    "ProjectNote",
    "ProjectRevision",
    "ProjectStatus",
    "QuizAttempt",
    "RosterSync",
    "SizeClass",
    "Submission",
    "SubmissionFile",
    "SubmissionState",
    "UnitKind",
    "UnitProgress",
    "UnitState",
    "UnitVersion",
]
