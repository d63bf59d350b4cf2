/**
 * @module
 * The privacy policy version users accept at sign-up. Publishing a new version means changing it
 * here; acceptances are recorded per version (policy_acceptances).
 */
export const POLICY_VERSION = "2026-11-01";
