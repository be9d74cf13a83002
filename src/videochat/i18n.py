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
        "stage_label": "Video call",
        "prejoin_heading": "Ready to join the call?",
        "prejoin_hint": "Not joining? You can still chat beside the call.",
        "preview_starting": "Starting your camera…",
        "preview_camera_off": "Your camera is off",
        "preview_no_camera": "No camera",
        "join_audio_only": "You will join with audio only.",
        "join_video_only": "You will join with video only (no microphone).",
        "join_watch_only": "You will join without camera and microphone: you can watch, listen and chat.",
        "camera_label": "Camera",
        "microphone_label": "Microphone",
        "speaker_label": "Speaker",
        "camera_numbered": "Camera {count}",
        "microphone_numbered": "Microphone {count}",
        "speaker_numbered": "Speaker {count}",
        "no_devices": "None found",
        "mute": "Mute",
        "unmute": "Unmute",
        "camera_off": "Turn Camera Off",
        "camera_on": "Turn Camera On",
        "share_screen": "Share screen",
        "stop_sharing": "Stop sharing",
        "leave_call": "Leave call",
        "settings": "Settings",
        "with_shortcut": "{action} ({key})",
        "shortcuts_heading": "Keyboard shortcuts",
        "shortcut_mute": "Mute or unmute your microphone",
        "shortcut_camera": "Turn your camera off or on",
        "tiles_label": "People in the call",
        "call_controls_label": "Call controls",
        "you_tile": "{name} (you)",
        "muted_indicator": "Muted",
        "camera_off_indicator": "Camera off",
        "screen_indicator": "Sharing screen",
        "peer_connecting": "Connecting…",
        "peer_retrying": "Connection interrupted. Reconnecting…",
        "peer_failed": "Connection failed. Trying again…",
        "peer_retrying_message": "The connection to {name} was interrupted. Reconnecting…",
        "peer_failed_message": "Could not connect to {name}. Trying again with a new connection…",
        "media_denied": "Camera and microphone are blocked for this site. You can still join to watch and chat; to be seen and heard, allow them in the browser's site settings and reload the page.",
        "media_no_device": "No camera or microphone was found. You can still join to watch, listen and chat; plug one in and choose it in the settings.",
        "media_no_camera": "No camera was found, so you will join with audio only. Plug one in and choose it in the settings.",
        "media_no_microphone": "No microphone was found, so you will join with video only. Plug one in and choose it in the settings.",
        "media_in_use": "Your camera or microphone is being used by another application. Close it and try again.",
        "media_failed": "Your camera or microphone could not be started.",
        "camera_unplugged": "Your camera was disconnected. Plug it back in or choose another camera in the settings.",
        "microphone_unplugged": "Your microphone was disconnected. Plug it back in or choose another microphone in the settings.",
        "share_failed": "Screen sharing could not be started.",
        "error_call_full": "The video call is full, so you cannot join it now. You can still chat with everyone here.",
        "error_not_in_call": "You are not in the call any more.",
        "error_unknown_peer": "That person is not in the call any more.",
        "error_invalid_description": "A connection message was not valid.",
        "error_invalid_candidate": "A connection message was not valid.",
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
        "leave": "Leave room",
        "back_home": "Back to the home page",
        "dismiss": "Dismiss",
        "notice_you_joined": "You joined {room}.",
        "notice_joined": "{name} joined.",
        "notice_left": "{name} left.",
        "notice_renamed": "{old} is now {name}.",
        "notice_reconnected": "Reconnected.",
        "notice_joined_call": "{name} joined the call.",
        "notice_left_call": "{name} left the call.",
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
        "stage_label": "영상 통화",
        "prejoin_heading": "통화에 참여할 준비가 되셨나요?",
        "prejoin_hint": "통화에 참여하지 않아도 옆에서 채팅할 수 있습니다.",
        "preview_starting": "카메라를 켜는 중…",
        "preview_camera_off": "카메라가 꺼져 있습니다",
        "preview_no_camera": "카메라 없음",
        "join_audio_only": "음성으로만 참여합니다.",
        "join_video_only": "마이크 없이 영상으로만 참여합니다.",
        "join_watch_only": "카메라와 마이크 없이 참여합니다. 보고 듣고 채팅할 수 있습니다.",
        "camera_label": "카메라",
        "microphone_label": "마이크",
        "speaker_label": "스피커",
        "camera_numbered": "카메라 {count}",
        "microphone_numbered": "마이크 {count}",
        "speaker_numbered": "스피커 {count}",
        "no_devices": "찾을 수 없음",
        "mute": "음소거",
        "unmute": "음소거 해제",
        "camera_off": "카메라 끄기",
        "camera_on": "카메라 켜기",
        "share_screen": "화면 공유",
        "stop_sharing": "공유 중지",
        "leave_call": "통화 나가기",
        "settings": "설정",
        "with_shortcut": "{action} ({key})",
        "shortcuts_heading": "단축키",
        "shortcut_mute": "마이크 음소거 또는 해제",
        "shortcut_camera": "카메라 끄기 또는 켜기",
        "tiles_label": "통화 참여자",
        "call_controls_label": "통화 제어",
        "you_tile": "{name} (나)",
        "muted_indicator": "음소거됨",
        "camera_off_indicator": "카메라 꺼짐",
        "screen_indicator": "화면 공유 중",
        "peer_connecting": "연결하는 중…",
        "peer_retrying": "연결이 끊겼습니다. 다시 연결하는 중…",
        "peer_failed": "연결하지 못했습니다. 다시 시도하는 중…",
        "peer_retrying_message": "{name} 님과의 연결이 끊겼습니다. 다시 연결하는 중…",
        "peer_failed_message": "{name} 님과 연결하지 못했습니다. 새 연결로 다시 시도하는 중…",
        "media_denied": "이 사이트에서 카메라와 마이크가 차단되어 있습니다. 그래도 참여해서 보고 채팅할 수 있습니다. 내 모습과 목소리를 보내려면 브라우저의 사이트 설정에서 허용한 다음 페이지를 새로 고치세요.",
        "media_no_device": "카메라와 마이크를 찾지 못했습니다. 그래도 참여해서 보고 듣고 채팅할 수 있습니다. 장치를 연결한 다음 설정에서 선택하세요.",
        "media_no_camera": "카메라를 찾지 못해 음성으로만 참여합니다. 카메라를 연결한 다음 설정에서 선택하세요.",
        "media_no_microphone": "마이크를 찾지 못해 영상으로만 참여합니다. 마이크를 연결한 다음 설정에서 선택하세요.",
        "media_in_use": "다른 프로그램이 카메라나 마이크를 쓰고 있습니다. 그 프로그램을 닫고 다시 시도하세요.",
        "media_failed": "카메라나 마이크를 시작하지 못했습니다.",
        "camera_unplugged": "카메라 연결이 끊겼습니다. 다시 연결하거나 설정에서 다른 카메라를 선택하세요.",
        "microphone_unplugged": "마이크 연결이 끊겼습니다. 다시 연결하거나 설정에서 다른 마이크를 선택하세요.",
        "share_failed": "화면 공유를 시작하지 못했습니다.",
        "error_call_full": "영상 통화 인원이 가득 차서 지금은 참여할 수 없습니다. 이 방의 사람들과 채팅은 계속할 수 있습니다.",
        "error_not_in_call": "더 이상 통화에 참여하고 있지 않습니다.",
        "error_unknown_peer": "그 사람은 더 이상 통화에 없습니다.",
        "error_invalid_description": "올바르지 않은 연결 메시지입니다.",
        "error_invalid_candidate": "올바르지 않은 연결 메시지입니다.",
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
        "leave": "방 나가기",
        "back_home": "처음 화면으로",
        "dismiss": "닫기",
        "notice_you_joined": "{room} 방에 참여했습니다.",
        "notice_joined": "{name} 님이 참여했습니다.",
        "notice_left": "{name} 님이 나갔습니다.",
        "notice_renamed": "{old} 님이 이름을 {name}(으)로 바꿨습니다.",
        "notice_reconnected": "다시 연결되었습니다.",
        "notice_joined_call": "{name} 님이 통화에 참여했습니다.",
        "notice_left_call": "{name} 님이 통화에서 나갔습니다.",
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
