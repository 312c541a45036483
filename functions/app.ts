/** A Hono app as a function: its own routes under the function's route. */
import { Hono } from "hono";

const app = new Hono().basePath("/app");

app.get("/", (c) => c.text("a Hono app in a lane\n"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id") }));
app.post("/users", async (c) => c.json(await c.req.json(), 201));

export default app;
