"""Messages that carry more than text: documents, photos, locations, venues; and ``getFile``."""

from __future__ import annotations

from typing import Any

from bot_api_emulator import media
from bot_api_emulator.protocol import (
    MAX_CAPTION,
    Handler,
    Params,
    add_caption,
    format_text,
    parse_markup,
)
from bot_api_emulator.state import ApiError, Chat, StoredFile, bad_request
from bot_api_emulator.world import World

_MB = 1024 * 1024
_MAX_DOCUMENT_UPLOAD = 50 * _MB
_MAX_PHOTO_UPLOAD = 10 * _MB
_MAX_DOWNLOAD = 20 * _MB


class AttachmentMethods:
    """Sending files and places, and handing files back to the bot."""

    def __init__(self, world: World) -> None:
        self._world = world

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        return {
            "senddocument": self.send_document,
            "sendphoto": self.send_photo,
            "sendlocation": self.send_location,
            "sendvenue": self.send_venue,
            "getfile": self.get_file,
        }

    async def send_document(self, params: Params) -> dict[str, Any]:
        """Send a file (uploaded, or a known ``file_id``) with an optional caption."""
        chat = self._world.find_chat(params)
        stored, upload = self._upload(params, "document")
        if upload is not None:
            if len(upload.content) > _MAX_DOCUMENT_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            stored = self._world.store_file(
                upload.content,
                folder="documents",
                file_name=upload.filename,
                mime_type=upload.content_type or media.guess_mime(upload.filename),
            )
        assert stored is not None
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return self._send_with_caption(chat, params, "sendDocument", {"document": document})

    async def send_photo(self, params: Params) -> dict[str, Any]:
        """Send a photo (an uploaded image, or a known ``file_id``) with an optional caption."""
        chat = self._world.find_chat(params)
        stored, upload = self._upload(params, "photo")
        if upload is not None:
            if len(upload.content) > _MAX_PHOTO_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            if media.image_size(upload.content) is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            stored = self._world.store_file(
                upload.content,
                folder="photos",
                file_name=upload.filename,
                mime_type=upload.content_type,
                extension=".jpg",
            )
        assert stored is not None
        width, height = media.image_size(stored.content) or (1, 1)
        photo = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "width": width,
            "height": height,
        }
        return self._send_with_caption(chat, params, "sendPhoto", {"photo": [photo]})

    async def send_location(self, params: Params) -> dict[str, Any]:
        """Send a point on the map."""
        chat = self._world.find_chat(params)
        content = {"location": _location(params)}
        markup = parse_markup(params)
        return self._world.record_bot_message(
            chat, "sendLocation", content, params, source_key="latitude", markup=markup
        )

    async def send_venue(self, params: Params) -> dict[str, Any]:
        """Send a named place with its address."""
        chat = self._world.find_chat(params)
        location = _location(params)
        venue = {
            "location": location,
            "title": params.get_str("title", required=True),
            "address": params.get_str("address", required=True),
        }
        markup = parse_markup(params)
        return self._world.record_bot_message(
            chat,
            "sendVenue",
            {"venue": venue, "location": location},
            params,
            source_key="title",
            markup=markup,
        )

    async def get_file(self, params: Params) -> dict[str, Any]:
        """Return the File object (with its download path) of a known file."""
        file_id = params.get_str("file_id", required=True) or ""
        stored = self._world.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.content) > _MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return stored.as_file()

    def _send_with_caption(
        self, chat: Chat, params: Params, method: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a media message with its caption and keyboard checked."""
        caption, entities = format_text(
            params, "caption", "caption_entities", MAX_CAPTION, required=False
        )
        markup = parse_markup(params)
        add_caption(content, caption, entities)
        return self._world.record_bot_message(
            chat, method, content, params, source_key="caption", markup=markup
        )

    def _upload(self, params: Params, name: str) -> tuple[StoredFile | None, media.Upload | None]:
        """Return the stored file a parameter points to, or the new upload it carries."""
        upload = params.files.get(name)
        value = params.values.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"wrong file identifier/HTTP URL specified ({value})")
        if upload is not None:
            if not upload.content:
                raise bad_request("file must be non-empty")
            return None, upload
        if not value:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = self._world.files.get(str(value))
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored, None


def _location(params: Params) -> dict[str, Any]:
    """Return the checked latitude and longitude of a request."""
    latitude = params.get_float("latitude", required=True)
    longitude = params.get_float("longitude", required=True)
    assert latitude is not None and longitude is not None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong location")
    return {"latitude": latitude, "longitude": longitude}

