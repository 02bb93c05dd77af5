#include "hub/server/tls_read_ahead.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>

namespace tether::hub {

TlsReadAhead::Link::~Link() {
  if (ssl_) {
    BIO* bio = SSL_get_rbio(ssl_);
    if (bio) {
      BIO_set_callback_ex(bio, nullptr);
      BIO_set_callback_arg(bio, nullptr);
    }
  }
  owner_.forget(*this);
}

void TlsReadAhead::Link::start(lws* wsi) {
  SSL* ssl = lws_get_ssl(wsi);
  if (!ssl) return;
  BIO* bio = SSL_get_rbio(ssl);
  if (!bio) return;
  wsi_ = wsi;
  ssl_ = ssl;
  BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(bio, &Link::on_bio);
  // Until now (handshake, upgrade request) OpenSSL read one record at a time, so
  // it holds nothing beyond what lws has taken.
  SSL_set_read_ahead(ssl, 1);
}

void TlsReadAhead::Link::set_receiving(bool on) {
  receiving_ = on;
  if (on && due()) owner_.queue(*this);
}

long TlsReadAhead::Link::on_bio(BIO* bio, int oper, const char* /*argp*/, std::size_t /*len*/,
                                int /*argi*/, long /*argl*/, int ret, std::size_t* processed) {
  if (oper != (BIO_CB_READ | BIO_CB_RETURN)) return ret;
  auto* link = reinterpret_cast<Link*>(BIO_get_callback_arg(bio));
  if (!link) return ret;
  if (ret > 0 && processed && *processed > 0) {
    link->bytes_read_ += *processed;
    link->starved_ = false;
    link->budget_ = std::min(link->budget_ + *processed / kMinRecord + 1, kMaxBudget);
    link->owner_.queue(*link);
  } else {
    link->starved_ = true;
  }
  return ret;
}

bool TlsReadAhead::Link::due() const {
  return ssl_ && receiving_ && !starved_ && budget_ > 0 && SSL_has_pending(ssl_) == 1;
}

void TlsReadAhead::queue(Link& link) {
  if (link.queued_) return;
  link.queued_ = true;
  due_.push_back(&link);
}

void TlsReadAhead::forget(const Link& link) {
  if (!link.queued_) return;
  std::replace(due_.begin(), due_.end(), const_cast<Link*>(&link), static_cast<Link*>(nullptr));
  std::replace(serving_.begin(), serving_.end(), const_cast<Link*>(&link),
               static_cast<Link*>(nullptr));
}

bool TlsReadAhead::service(const std::function<void()>& between) {
  if (due_.empty()) return false;
  serving_.swap(due_);
  for (std::size_t i = 0; i < serving_.size(); ++i) {
    Link* link = serving_[i];
    if (!link) continue;
    link->queued_ = false;
    if (!link->due()) continue;
    --link->budget_;
    // Marked before the service: the link may go inside it, and forget() then
    // finds its entry here and clears it.
    link->queued_ = true;
    lws_pollfd readable{};
    readable.fd = lws_get_socket_fd(link->wsi_);
    readable.events = POLLIN;
    readable.revents = POLLIN;
    lws_service_fd(lws_get_context(link->wsi_), &readable);
    between();
    link = serving_[i];
    if (!link) continue;
    link->queued_ = false;
    if (link->due()) queue(*link);
  }
  serving_.clear();
  return !due_.empty();
}

}  // namespace tether::hub
