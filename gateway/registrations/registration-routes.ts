/**
 * The registration API (README "HTTP APIs"): the technician registers a patient once at the box and
 * the modality picks the patient from its worklist.
 *
 *   POST /api/registrations        → 201 the registration with its assigned identifiers
 *   GET  /api/registrations        → today's registrations with their state
 *   GET  /api/registrations/:id    → one registration
 */
import { type Router, readJsonBody, sendJson } from "../../common/http-router.ts";
import { gatewayError } from "../errors.ts";
import { validateRegistrationInput } from "./registration.ts";
import type { RegistrationStore } from "./registration-store.ts";

export function addRegistrationRoutes(
  router: Router,
  store: RegistrationStore,
  now: () => Date = () => new Date(),
): void {
  router.add("POST", "/api/registrations", async ({ req, res }) => {
    const input = validateRegistrationInput(await readJsonBody(req, 16 * 1024), now());
    sendJson(res, 201, await store.create(input));
    return undefined;
  });
  router.add("GET", "/api/registrations", () => store.listToday());
  router.add("GET", "/api/registrations/:id", ({ params }) => {
    const registration = store.get(params.id ?? "");
    if (!registration) throw gatewayError("REGISTRATION_NOT_FOUND", "no such registration at this box");
    return registration;
  });
}
