/** The far end of the raw Unix-socket ping-pong: echoes every chunk. Prints "ready" once listening. */
const socketPath = process.argv[2];
if (socketPath === undefined) throw new Error("usage: echo-server.ts SOCKET_PATH");
Bun.listen({
  unix: socketPath,
  socket: {
    data(socket, data) {
      socket.write(data);
    },
  },
});
console.log("ready");
