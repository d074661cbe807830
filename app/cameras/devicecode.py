"""GB/T 28181 device codes (设备编码): 20 digits whose structure is checked, not just counted.

GB/T 28181-2016 附录 D (统一编码规则), positions 1–20:

- 1–8 中心编码: 省 2 + 市 2 + 区县 2 (统计用区划代码) + 基层接入单位 2; checked: the first
  two digits are a province of China (11–82).
- 9–10 行业编码 (00 社会治安路面接入, 01 社会治安社区接入, ...): digits.
- 11–13 类型编码: checked to be a camera, 131 摄像机 or 132 网络摄像机 (IPC).
- 14 网络标识: 0–4 监控报警专网, 5 公安信息网, 6 政务网, 7 互联网, 8 社会资源接入网; checked
  0–8 (9 is reserved).
- 15–20 序号: digits.

A recorder (111 DVR, 118 NVR) or a platform (200–299) is not a camera point, so it is refused.
"""

from __future__ import annotations

from flask_babel import gettext as _

# 省级行政区划代码 (GB/T 2260): the first two digits of every division code.
PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82",
    }
)  # fmt: skip
CAMERA_TYPES = {"131": "摄像机", "132": "网络摄像机"}
NETWORKS = frozenset("012345678")


def problem(code: str) -> str | None:
    """What is wrong with a device code (a message in the request's language), or None."""
    if len(code) != 20 or not code.isascii() or not code.isdigit():
        return _("设备编码应为 20 位数字（GB/T 28181）")
    if code[:2] not in PROVINCES:
        return _("设备编码第 1–2 位应为省级行政区划代码（GB/T 28181 中心编码）")
    if code[10:13] not in CAMERA_TYPES:
        return _("设备编码第 11–13 位应为摄像机类型编码 131 或 132（GB/T 28181）")
    if code[13] not in NETWORKS:
        return _("设备编码第 14 位网络标识应为 0–8（GB/T 28181）")
    return None


def parts(code: str) -> dict:
    """A valid code's parts, for the answer: centre, industry, type, network, serial."""
    return {
        "centre": code[:8],
        "industry": code[8:10],
        "type": code[10:13],
        "network": code[13],
        "serial": code[14:],
    }
