// The connection banner (#status, role=status): shown while connecting or reconnecting.

import { byId } from "./dom.js";
import { t } from "./i18n.js";

const TEXT = {
    connecting: "status_connecting",
    reconnecting: "status_reconnecting",
    disconnected: "status_disconnected",
};

/**
 * Keeps the banner in step with a ChatConnection's status. data-state carries the state itself
 * (connecting, connected, reconnecting, disconnected) for styles and tests.
 * @param {import("./protocol.js").ChatConnection} connection
 */
export function showStatus(connection) {
    const banner = byId("status");
    connection.on("status", ({ status, shutdown }) => {
        banner.dataset.state = status;
        const key = status === "reconnecting" && shutdown ? "status_restarting" : TEXT[status];
        banner.textContent = key ? t(key) : "";
    });
}
