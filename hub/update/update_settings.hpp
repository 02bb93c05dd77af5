// The hub's `[update]` options (docs/hub.md, "Software update").
#pragma once

#include <string>

namespace tether::hub {

struct UpdateSettings {
  // The folder of artifacts served at /artifacts/NAME; empty: no artifacts to offer
  // (progress from devices is still recorded).
  std::string artifact_dir;
  // PEM private key (Ed25519, ECDSA P-256, RSA >= 2048) that signs each artifact's
  // digest; empty: offers carry no signature.
  std::string signing_key;
  // The https://host[:port] devices reach the hub at, for the offer's URL; empty:
  // https://localhost:<listen port> (fine on one machine only).
  std::string public_url;
};

}  // namespace tether::hub
