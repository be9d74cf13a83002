// The resolve hook of vendor.mjs (module hooks run in their own thread, hence their own file).

const SOCKET_IO = "/static/vendor/socket.io.esm.min.js";

export async function resolve(specifier, context, next) {
    return next(specifier === SOCKET_IO ? "socket.io-client" : specifier, context);
}
