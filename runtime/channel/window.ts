/**
 * How much of one streamed response may be between the function and the client's connection.
 * A function may produce faster than its client reads (or a client may not read at all); the
 * host held everything produced, at whatever pace it came, and one such response grew the host
 * by 400 MB a second until its deadline. Now the guest stops reading the function's stream once
 * RESPONSE_WINDOW bytes it sent are not yet acknowledged, and the host sends an `ack` frame for
 * every ACK_BYTES of that response the server has taken on to the connection (at the pace the
 * client reads). ACK_BYTES is at most the window, so a guest that waits is always acked again.
 */
export const RESPONSE_WINDOW = 2 * 1024 * 1024;
export const ACK_BYTES = 512 * 1024;
