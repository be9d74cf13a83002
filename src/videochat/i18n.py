"""The user interface in English and Korean, and the choice of language for a request.

Every string the pages show lives here, keyed the same way in both languages. The templates read them
through `t(key)`; the browser scripts receive the whole table as JSON and fill the `{name}`,
`{count}`, `{room}` and `{old}` placeholders themselves.
"""

from __future__ import annotations

LANGUAGES = ("en", "ko")
DEFAULT_LANGUAGE = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app_name": "videochat",
        "language_label": "Language",
        "switch_language": "한국어",
        "home_link": "videochat home",
        "home_title": "Chat and meet, right in your browser",
        "home_subtitle": "Pick a name, then create a room or join an open one.",
        "nickname_label": "Your name",
        "nickname_placeholder": "e.g. Jisoo",
        "room_label": "Room name",
        "room_placeholder": "e.g. lobby",
        "enter_room": "Join or create",
        "rooms_heading": "Open rooms",
        "rooms_loading": "Loading rooms…",
        "rooms_empty": "No open rooms yet. Create one above!",
        "member_count_one": "1 member",
        "member_count_other": "{count} members",
        "join_room_link": "Join {room}, {count} in the room",
        "status_connecting": "Connecting…",
        "status_reconnecting": "Connection lost. Reconnecting…",
        "status_restarting": "The server is restarting. Reconnecting…",
        "status_disconnected": "Disconnected.",
        "join_heading": "Join {room}",
        "join_prompt": "Choose a name so the others know who you are.",
        "join": "Join",
        "stage_label": "Video",
        "stage_hint": "Video is coming soon. For now, each person here has a tile.",
        "members_heading": "People",
        "you_marker": "(you)",
        "chat_heading": "Chat",
        "chat_log_label": "Chat messages",
        "no_messages": "No messages yet. Say hello!",
        "message_label": "Message",
        "message_placeholder": "Send a message to everyone",
        "send": "Send",
        "rename": "Rename",
        "rename_label": "Your name",
        "leave": "Leave",
        "back_home": "Back to the home page",
        "dismiss": "Dismiss",
        "notice_you_joined": "You joined {room}.",
        "notice_joined": "{name} joined.",
        "notice_left": "{name} left.",
        "notice_renamed": "{old} is now {name}.",
        "notice_reconnected": "Reconnected.",
        "error_room_empty": "Enter a room name.",
        "error_room_too_long": "A room name can be at most {count} characters.",
        "error_nickname_empty": "Enter your name.",
        "error_nickname_too_long": "A name can be at most {count} characters.",
        "error_message_too_long": "A message can be at most {count} characters.",
        "error_control_chars": "Control characters (such as line breaks) are not allowed.",
        "error_invalid_room": "That room name is not valid.",
        "error_invalid_nickname": "That name is not valid.",
        "error_invalid_message": "That message is not valid.",
        "error_not_in_room": "You are not in this room any more.",
        "error_unknown_event": "The server did not understand the request.",
        "error_internal_error": "Something went wrong on the server. Please try again.",
        "error_offline": "You are not connected; the message was not sent.",
        "error_timeout": "The server did not answer in time. Please try again.",
        "error_disconnected": "The connection was lost before the server answered.",
        "error_unknown": "Something went wrong.",
        # room owners and access (issue 5)
        "private_room_label": "Private room (only people with the link can find it)",
        "room_locked_list": "locked",
        "join_room_link_locked": "Join {room}, locked, {count} in the room",
        "room_locked": "Locked",
        "room_private": "Private",
        "owner_badge": "Owner",
        "owner_badge_label": "Room owner",
        "notice_new_owner": "{name} now owns the room.",
        "notice_you_own": "You now own the room.",
        "notice_mute_request": "{name} asked you to mute.",
        "password_heading": "{room} is locked",
        "password_required": "This room is locked. Enter its password to join.",
        "password_wrong": "That password is not right. Try again.",
        "password_label": "Room password",
        "password_enter": "Enter",
        "refused_heading": "You cannot join {room} now",
        "removed_heading": "You were removed",
        "removed_text": "You were removed from {room} by {name}.",
        "try_again": "Try again",
        "settings_heading": "Room settings",
        "settings_password_label": "Password to lock the room",
        "settings_password_placeholder": "A new password",
        "settings_lock": "Lock",
        "settings_unlock": "Unlock",
        "settings_change_password": "Change password",
        "settings_locked_state": "The room is locked with a password.",
        "settings_unlocked_state": "Anyone with the link can join.",
        "settings_cap_label": "Most people in the room (empty: no limit)",
        "settings_cap_save": "Set limit",
        "settings_private_label": "Private (not in the list of open rooms)",
        "settings_saved": "Saved.",
        "member_actions": "Actions for {name}",
        "action_mute": "Ask to mute",
        "action_owner": "Make owner",
        "action_remove": "Remove",
        "confirm_remove": "Remove {name} from the room?",
        "confirm_remove_yes": "Yes, remove",
        "cancel": "Cancel",
        "action_done_mute": "Asked {name} to mute.",
        "error_password_required": "This room is locked. Enter its password to join.",
        "error_wrong_password": "That password is not right.",
        "error_room_full": "This room is full. Try again later.",
        "error_banned": "The owner removed you from this room; you cannot come back yet.",
        "error_not_owner": "Only the room's owner can do that.",
        "error_unknown_member": "That person is not in the room any more.",
        "error_invalid_settings": "Those settings are not valid (the limit is a number from 1 to 1000).",
        "error_invalid_password": "A password is 1 to 1024 characters.",
    },
    "ko": {
        "app_name": "videochat",
        "language_label": "언어",
        "switch_language": "English",
        "home_link": "videochat 처음 화면",
        "home_title": "브라우저에서 바로 채팅하고 만나세요",
        "home_subtitle": "이름을 정한 다음 방을 만들거나 열린 방에 참여하세요.",
        "nickname_label": "내 이름",
        "nickname_placeholder": "예: 지수",
        "room_label": "방 이름",
        "room_placeholder": "예: 로비",
        "enter_room": "참여 또는 만들기",
        "rooms_heading": "열린 방",
        "rooms_loading": "방 목록을 불러오는 중…",
        "rooms_empty": "아직 열린 방이 없습니다. 위에서 방을 만들어 보세요!",
        "member_count_one": "1명",
        "member_count_other": "{count}명",
        "join_room_link": "{room} 방에 참여하기, 현재 {count}명",
        "status_connecting": "연결하는 중…",
        "status_reconnecting": "연결이 끊겼습니다. 다시 연결하는 중…",
        "status_restarting": "서버가 다시 시작되고 있습니다. 다시 연결하는 중…",
        "status_disconnected": "연결이 끊어졌습니다.",
        "join_heading": "{room} 방에 참여",
        "join_prompt": "다른 사람들이 알아볼 수 있도록 이름을 정하세요.",
        "join": "참여",
        "stage_label": "영상",
        "stage_hint": "영상 기능은 곧 추가됩니다. 지금은 참여한 사람마다 타일이 하나씩 표시됩니다.",
        "members_heading": "참여자",
        "you_marker": "(나)",
        "chat_heading": "채팅",
        "chat_log_label": "채팅 메시지",
        "no_messages": "아직 메시지가 없습니다. 인사를 건네 보세요!",
        "message_label": "메시지",
        "message_placeholder": "모두에게 메시지 보내기",
        "send": "보내기",
        "rename": "이름 바꾸기",
        "rename_label": "내 이름",
        "leave": "나가기",
        "back_home": "처음 화면으로",
        "dismiss": "닫기",
        "notice_you_joined": "{room} 방에 참여했습니다.",
        "notice_joined": "{name} 님이 참여했습니다.",
        "notice_left": "{name} 님이 나갔습니다.",
        "notice_renamed": "{old} 님이 이름을 {name}(으)로 바꿨습니다.",
        "notice_reconnected": "다시 연결되었습니다.",
        "error_room_empty": "방 이름을 입력하세요.",
        "error_room_too_long": "방 이름은 {count}자까지 쓸 수 있습니다.",
        "error_nickname_empty": "이름을 입력하세요.",
        "error_nickname_too_long": "이름은 {count}자까지 쓸 수 있습니다.",
        "error_message_too_long": "메시지는 {count}자까지 쓸 수 있습니다.",
        "error_control_chars": "줄바꿈 같은 제어 문자는 쓸 수 없습니다.",
        "error_invalid_room": "사용할 수 없는 방 이름입니다.",
        "error_invalid_nickname": "사용할 수 없는 이름입니다.",
        "error_invalid_message": "보낼 수 없는 메시지입니다.",
        "error_not_in_room": "이 방에 더 이상 참여하고 있지 않습니다.",
        "error_unknown_event": "서버가 요청을 이해하지 못했습니다.",
        "error_internal_error": "서버에 문제가 생겼습니다. 다시 시도해 주세요.",
        "error_offline": "연결되어 있지 않아 메시지를 보내지 못했습니다.",
        "error_timeout": "서버가 제때 응답하지 않았습니다. 다시 시도해 주세요.",
        "error_disconnected": "서버가 응답하기 전에 연결이 끊겼습니다.",
        "error_unknown": "문제가 생겼습니다.",
        # room owners and access (issue 5)
        "private_room_label": "비공개 방 (링크가 있는 사람만 찾을 수 있음)",
        "room_locked_list": "잠김",
        "join_room_link_locked": "{room} 방에 참여하기, 잠김, 현재 {count}명",
        "room_locked": "잠김",
        "room_private": "비공개",
        "owner_badge": "방장",
        "owner_badge_label": "방장",
        "notice_new_owner": "이제 {name} 님이 방장입니다.",
        "notice_you_own": "이제 내가 방장입니다.",
        "notice_mute_request": "{name} 님이 음소거를 요청했습니다.",
        "password_heading": "{room} 방은 잠겨 있습니다",
        "password_required": "잠긴 방입니다. 참여하려면 비밀번호를 입력하세요.",
        "password_wrong": "비밀번호가 맞지 않습니다. 다시 입력하세요.",
        "password_label": "방 비밀번호",
        "password_enter": "들어가기",
        "refused_heading": "지금은 {room} 방에 참여할 수 없습니다",
        "removed_heading": "방에서 내보내졌습니다",
        "removed_text": "{name} 님이 나를 {room} 방에서 내보냈습니다.",
        "try_again": "다시 시도",
        "settings_heading": "방 설정",
        "settings_password_label": "방을 잠글 비밀번호",
        "settings_password_placeholder": "새 비밀번호",
        "settings_lock": "잠그기",
        "settings_unlock": "잠금 해제",
        "settings_change_password": "비밀번호 바꾸기",
        "settings_locked_state": "비밀번호로 잠긴 방입니다.",
        "settings_unlocked_state": "링크가 있으면 누구나 참여할 수 있습니다.",
        "settings_cap_label": "최대 인원 (비워 두면 제한 없음)",
        "settings_cap_save": "인원 제한 설정",
        "settings_private_label": "비공개 (열린 방 목록에 표시하지 않음)",
        "settings_saved": "저장했습니다.",
        "member_actions": "{name} 님에 대한 작업",
        "action_mute": "음소거 요청",
        "action_owner": "방장 넘기기",
        "action_remove": "내보내기",
        "confirm_remove": "{name} 님을 방에서 내보낼까요?",
        "confirm_remove_yes": "네, 내보내기",
        "cancel": "취소",
        "action_done_mute": "{name} 님에게 음소거를 요청했습니다.",
        "error_password_required": "잠긴 방입니다. 참여하려면 비밀번호를 입력하세요.",
        "error_wrong_password": "비밀번호가 맞지 않습니다.",
        "error_room_full": "방이 가득 찼습니다. 나중에 다시 시도하세요.",
        "error_banned": "방장이 나를 이 방에서 내보냈습니다. 아직 다시 들어갈 수 없습니다.",
        "error_not_owner": "방장만 할 수 있습니다.",
        "error_unknown_member": "그 사람은 더 이상 방에 없습니다.",
        "error_invalid_settings": "설정이 올바르지 않습니다 (인원 제한은 1에서 1000 사이의 숫자).",
        "error_invalid_password": "비밀번호는 1자에서 1024자까지입니다.",
    },
}


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: `?lang=` first, then the cookie, then Accept-Language, else English."""
    for explicit in (query, cookie):
        language = _supported(explicit)
        if language:
            return language
    for tag in _preferred_tags(accept_language or ""):
        language = _supported(tag)
        if language:
            return language
    return DEFAULT_LANGUAGE


def _supported(tag: str | None) -> str | None:
    """"ko", "KO" and "ko-KR" all mean Korean; anything else we do not speak is None."""
    if not tag:
        return None
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else None


def _preferred_tags(header: str) -> list[str]:
    """Language tags from an Accept-Language header, most wanted first; q=0 means "not this"."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(float(value.strip()), 1.0)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
