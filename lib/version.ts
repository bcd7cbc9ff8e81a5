/**
 * The program's name and version, printed by `main.ts version`.
 *
 * @module
 */

/** Program name. */
export const NAME = "tqsdk-broker-connect";

/** Program version (semver). Bump it with each release. */
export const VERSION = "0.1.0";

/** `tqsdk-broker-connect 0.1.0`. */
export function versionLine(): string {
  return `${NAME} ${VERSION}`;
}
