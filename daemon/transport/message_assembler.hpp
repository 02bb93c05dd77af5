// Reassembly of one WebSocket message from the pieces libwebsockets hands over
// (fragments, and frames split into receive-buffer-sized chunks). Pure: the caller
// reads the frame flags from lws and passes them in, so the daemon's client link
// and the hub's server sockets share one implementation and one set of rules:
// binary messages only, and a bound on the message size that is checked before a
// byte past it is buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/value.hpp"

namespace tether::daemon::transport {

// What libwebsockets says about the piece just received.
struct Fragment {
  bool first = true;          // lws_is_first_fragment: starts a new message
  bool binary = true;         // lws_frame_is_binary: only looked at on the first piece
  bool final = true;          // lws_is_final_fragment
  std::size_t remaining = 0;  // lws_remaining_packet_payload: bytes of this frame still to come
};

class MessageAssembler {
 public:
  enum class Outcome {
    kIncomplete,  // more pieces to come
    kComplete,    // take() returns the message
    kNotBinary,   // a text message: the caller closes with 1003
    kTooBig,      // over max_message: the caller closes with 1009
  };

  // Adds one piece. `max_message` bounds the whole message, counting the rest of
  // the current frame, so an oversized frame is refused at its first chunk.
  // After kNotBinary or kTooBig the partial message is discarded.
  Outcome add(std::span<const std::uint8_t> piece, const Fragment& fragment,
              std::size_t max_message);

  // The completed message; leaves the assembler empty.
  protocol::Bytes take();

  // Drops a partial message (a new connection starts clean).
  void reset() { buffer_.clear(); }

  std::size_t buffered() const { return buffer_.size(); }

 private:
  protocol::Bytes buffer_;
};

}  // namespace tether::daemon::transport
