// tls-client-floor: the memory floor of any TLS client on this OS.
//
// It does what tetherd does to get ready for TLS and nothing else: it creates a
// client SSL_CTX, requires TLS 1.2 or newer and loads the CA certificates from the
// file given as its argument (as tetherd does with --server.ca-file). Then it writes
// "ready" and sleeps until it is killed. shell-throughput measures its VmRSS, Pss
// and private memory next to tetherd's and sshd's: OpenSSL 3 alone, with its shared
// libcrypto pages that count in RSS, already costs more than a target like "idle RSS
// under 5 MB" allows, before any networking.
//
// To stay a floor it links nothing but libssl and libcrypto: only C interfaces are
// used, it is built without exceptions and RTTI and linked with --as-needed, so that
// libstdc++ is not even loaded.
//
// Usage: tls-client-floor CA_FILE
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fputs("usage: tls-client-floor CA_FILE\n", stderr);
    return 2;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, argv[1], nullptr) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  static const char kReady[] = "ready\n";
  if (write(STDOUT_FILENO, kReady, sizeof kReady - 1) != sizeof kReady - 1) return 1;
  for (;;) pause();
}
