// Loads the browser scripts in Node: their one import from the server's URL space, the Socket.IO
// client at /static/vendor/socket.io.esm.min.js (copied there from npm by the set-up), is the same
// package's Node build (node_modules/socket.io-client). Used as `node --import ./tests/js/vendor.mjs`.

import { register } from "node:module";

register("./vendor-hooks.mjs", import.meta.url);
