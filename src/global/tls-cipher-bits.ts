/**
 * tls-cipher-bits: the symmetric key size of a TLS cipher suite, by its
 * OpenSSL or IANA name ("TLS_AES_256_GCM_SHA384" -> 256,
 * "ECDHE-RSA-AES128-GCM-SHA256" -> 128, CHACHA20 -> 256, 3DES -> 168).
 * Node does not expose OpenSSL's cipher bits, and the names carry them for
 * every suite OpenSSL 3 offers; 0 for a name without one. Pure; never throws.
 *
 *   cipherBits(name) -> number
 */

/** The suite's key size in bits (Postfix's "256/256 bits", milter {cipher_bits}); 0 when the name does not say. */
export function cipherBits(name: string): number {
  if (/CHACHA20|_256_|AES256|CAMELLIA256|ARIA256/i.test(name)) return 256;
  if (/_128_|AES128|CAMELLIA128|ARIA128|SM4/i.test(name)) return 128;
  if (/3DES|DES-CBC3/i.test(name)) return 168;
  return 0;
}
