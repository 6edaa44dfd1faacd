/** Jobs: following and canceling the asynchronous operations (the runner itself is built by buildApp). */
export { registerJobRoutes as register } from './job-routes.js';
