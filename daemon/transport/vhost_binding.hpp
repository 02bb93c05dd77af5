// How a client object that owns an lws vhost receives that vhost's protocol
// callbacks. lws keeps calling the vhost's protocol while it winds the vhost down,
// after its owner may be gone (LWS_CALLBACK_PROTOCOL_DESTROY comes last), so the
// vhost's user pointer is this small binding, which outlives the owner: the owner
// detaches itself in its destructor, and lws's last callback frees the binding.
// The tetherd link (transport::Connection) and tether-hub's operator link share it.
#pragma once

#include <libwebsockets.h>

#include <cstddef>

namespace tether::daemon::transport {

// `Target` has `int dispatch(lws*, lws_callback_reasons, void* in, std::size_t len)`.
template <typename Target>
class VhostBinding {
 public:
  // A binding for `info.user` of the vhost `target` is about to create.
  static VhostBinding* attach(Target* target) { return new VhostBinding(target); }

  // The owner's destructor: routes lws's remaining calls nowhere, then destroys
  // the vhost (which frees the binding later), or frees the binding at once when
  // lws never saw it (`vhost` null: creating the vhost failed or never ran).
  static void release(VhostBinding* binding, lws_vhost* vhost) {
    if (binding != nullptr) binding->target_ = nullptr;
    if (vhost != nullptr) {
      lws_vhost_destroy(vhost);
    } else {
      delete binding;
    }
  }

  // The protocol's callback (lws_protocols::callback).
  static int callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in,
                      std::size_t len) {
    lws_vhost* vhost = lws_get_vhost(wsi);
    if (vhost == nullptr) return 0;
    auto* binding = static_cast<VhostBinding*>(lws_vhost_user(vhost));
    if (binding == nullptr) return 0;
    if (reason == LWS_CALLBACK_PROTOCOL_DESTROY) {
      if (binding->target_ == nullptr) delete binding;
      return 0;
    }
    if (binding->target_ == nullptr) return 0;
    return binding->target_->dispatch(wsi, reason, in, len);
  }

 private:
  explicit VhostBinding(Target* target) : target_(target) {}
  Target* target_;
};

}  // namespace tether::daemon::transport
