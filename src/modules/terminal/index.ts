/** Terminal pods: a session with a single-use token, redeemed by the terminal gateway. */
export { registerTerminalRoutes as register } from './terminal-routes.js';
