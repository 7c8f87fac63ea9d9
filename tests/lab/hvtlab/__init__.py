# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lab harness (see tests/lab/lab and docs/lab.md)."""
