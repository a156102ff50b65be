export { startDemoBackend, type DemoBackend, type DemoBackendOptions } from './demo-backend.js';
