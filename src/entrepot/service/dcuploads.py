"""How large a file ``[datacenter]`` accepts from the dashboard and the watched folder.

``max_upload`` bounds one file's bytes — a ``.csv.gz`` file's once
decompressed, so that a small bomb is refused as it expands — 512 MiB
unless written (``"2 GiB"``, ``"100MB"``, a number of bytes).  It is
checked as the configuration is loaded (a limit of nothing fails there,
not at the first upload) and becomes the data center's
:class:`~entrepot.datacenter.UploadPolicy` (:meth:`UploadLimits.upload_policy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, Field

from entrepot.units import parse_size

if TYPE_CHECKING:
    from entrepot.datacenter.uploads import UploadPolicy

__all__ = ["DEFAULT_MAX_UPLOAD", "UploadLimits"]

#: One file's bytes at most, unless ``max_upload`` says otherwise: the data center's own
#: default (:class:`~entrepot.datacenter.UploadPolicy`; a test keeps them equal).
DEFAULT_MAX_UPLOAD = 512 * 1024 * 1024


class UploadLimits(BaseModel):
    """The upload limit of ``[datacenter]``; see the module docstring."""

    max_upload: Annotated[int, BeforeValidator(parse_size), Field(gt=0)] = DEFAULT_MAX_UPLOAD

    def upload_policy(self) -> UploadPolicy:
        """The data center's policy with this limit."""
        from entrepot.datacenter.uploads import UploadPolicy

        return UploadPolicy(max_bytes=self.max_upload)
