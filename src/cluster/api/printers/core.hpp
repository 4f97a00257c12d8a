#pragma once
// Core printers that live in their own files; core.cpp registers them.
#include "cluster/api/printers.hpp"

namespace kcube::api::printers {

Printer pod_printer();
// core/v1 Event and events.k8s.io/v1 Event: the same columns, fields under different names.
Printer core_event_printer();
Printer events_event_printer();

}  // namespace kcube::api::printers
