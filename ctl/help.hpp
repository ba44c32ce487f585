// streamguardctl's --help text (ctl/help.cpp).
#pragma once

namespace sg {

extern const char* const kCtlHelp;

}  // namespace sg
