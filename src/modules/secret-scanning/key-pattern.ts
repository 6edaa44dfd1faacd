/**
 * The pattern secret scanners look for (GitHub's partner program, gitleaks, trufflehog): `skd_`, then 32
 * random base62 characters and 6 base62 characters of their CRC32 (auth/api-key-format.ts), as a whole
 * word. The README quotes this string as it is, and a test checks that it does: the scanners'
 * configuration cannot drift from the format. A match is a key only if its checksum holds too
 * (`isWellFormedApiKey`); the regular expression alone cannot say that.
 */
export const API_KEY_SCAN_REGEX = String.raw`\bskd_[0-9A-Za-z]{38}\b`;
