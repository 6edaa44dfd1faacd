/** Pods of a running cluster and their logs (followed logs stream). */
export { registerPodRoutes as register } from './pod-routes.js';
