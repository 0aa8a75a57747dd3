/** The broker's network layer: the native protocol listener. */
export { NativeServer, type Handler, type NativeServerOptions, type RequestContext } from './server.js';
