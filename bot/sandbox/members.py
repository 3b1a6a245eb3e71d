"""Who belongs to a group or channel, with which rights, shown as Bot API ChatMember objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

STATUSES = ("creator", "administrator", "member", "left", "kicked")
PRESENT = frozenset({"creator", "administrator", "member"})
ADMINS = frozenset({"creator", "administrator"})

# Every administrator carries these; a channel adds posting rights, a group pinning.
_COMMON_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_CHANNEL_RIGHTS = ("can_post_messages", "can_edit_messages")
_GROUP_RIGHTS = ("can_pin_messages",)
_SUPERGROUP_RIGHTS = ("can_manage_topics",)
# What an administrator gets when nobody says otherwise: all but appointing other admins.
_WITHHELD = frozenset({"can_promote_members", "can_manage_topics"})


def rights_for(chat_type: str) -> tuple[str, ...]:
    """Return the names of the administrator rights a chat of `chat_type` has."""
    if chat_type == "channel":
        return _COMMON_RIGHTS + _CHANNEL_RIGHTS
    if chat_type == "supergroup":
        return _COMMON_RIGHTS + _GROUP_RIGHTS + _SUPERGROUP_RIGHTS
    return _COMMON_RIGHTS + _GROUP_RIGHTS


@dataclass
class Member:
    """One user's (or the bot's) standing in a chat."""

    status: str = "member"
    is_anonymous: bool = False
    custom_title: str | None = None
    # Only the rights given explicitly; the rest follow the defaults of rights_for().
    rights: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}: {self.status}")

    @property
    def present(self) -> bool:
        """Tell whether the member is in the chat (owner, administrator or member)."""
        return self.status in PRESENT

    @property
    def is_admin(self) -> bool:
        """Tell whether the member is the owner or an administrator."""
        return self.status in ADMINS

    def can(self, right: str) -> bool:
        """Tell whether the member holds an administrator right (owners hold them all)."""
        if self.status == "creator":
            return True
        if self.status != "administrator":
            return False
        return self.rights.get(right, right not in _WITHHELD)

    def as_chat_member(self, user: JsonDict, chat_type: str) -> JsonDict:
        """Return the Bot API ChatMember object of this member."""
        data: JsonDict = {"user": user, "status": self.status}
        if self.status == "creator":
            data["is_anonymous"] = self.is_anonymous
        elif self.status == "administrator":
            # The sandbox's bot never appoints administrators, so it can edit none of them.
            data["can_be_edited"] = False
            data["is_anonymous"] = self.is_anonymous
            data.update({right: self.can(right) for right in rights_for(chat_type)})
        elif self.status == "kicked":
            data["until_date"] = 0
        if self.custom_title and self.is_admin:
            data["custom_title"] = self.custom_title
        return data


def member_from(
    status: str,
    *,
    is_anonymous: bool = False,
    custom_title: str | None = None,
    rights: dict[str, Any] | None = None,
) -> Member:
    """Build a member from control API arguments, refusing unknown statuses and rights."""
    given = {str(name): bool(value) for name, value in (rights or {}).items()}
    known = set(_COMMON_RIGHTS + _CHANNEL_RIGHTS + _GROUP_RIGHTS + _SUPERGROUP_RIGHTS)
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"unknown administrator rights: {', '.join(unknown)}")
    return Member(status, is_anonymous, custom_title, given)
