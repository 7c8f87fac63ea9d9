/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's D-Bus names, shared by hvtortured and the hvtorture client. */
#pragma once

#define HVT_BUS_NAME "org.hvtorture1"
#define HVT_BUS_PATH "/org/hvtorture1"
#define HVT_BUS_INTERFACE "org.hvtorture1.Manager"

#define HVT_BUS_ERROR_BUSY "org.hvtorture1.Error.Busy"
#define HVT_BUS_ERROR_NOT_RUNNING "org.hvtorture1.Error.NotRunning"
#define HVT_BUS_ERROR_BAD_PROFILE "org.hvtorture1.Error.BadProfile"
#define HVT_BUS_ERROR_SETUP "org.hvtorture1.Error.SetupFailed"
#define HVT_BUS_ERROR_NO_SUCH_RUN "org.hvtorture1.Error.NoSuchRun"
