// Text from peers made storable on both SQL back ends. PostgreSQL refuses text
// that is not valid UTF-8 or holds a NUL byte (hub/store/sql/database.hpp), and
// one refused row fails its whole batch: one device sending a bad stream name
// would stall every device's records. So the stores pass everything a device or
// an operator chose through make_storable() before queueing it, on either back
// end (both then store and return the same text).
#pragma once

#include <string>
#include <string_view>

namespace tether::hub {

// True when `s` is valid UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF) without NUL bytes.
bool is_storable_text(std::string_view s);

// Replaces, in place, each NUL byte and each byte that does not start a valid
// UTF-8 sequence with U+FFFD. Leaves valid text untouched (and uncopied).
void make_storable(std::string& s);

}  // namespace tether::hub
