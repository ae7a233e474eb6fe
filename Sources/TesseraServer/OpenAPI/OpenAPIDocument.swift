// The OpenAPI 3.1 document of Tessera's HTTP API, served at GET /openapi.json. It is kept here,
// as the bytes the server sends, rather than as a resource file, so a copied `tessera` binary
// serves it too. `OpenAPIContractTests` validates it with openapi-spec-validator and checks that
// it names every route the router has and no other. Edit the JSON between the delimiters
// (2-space indent, sorted keys).

enum OpenAPIDocument {
    static let json = #"""
{
  "components": {
    "headers": {
      "Allow": {
        "description": "The methods the path supports, such as `POST` or `GET, HEAD`.",
        "schema": {
          "example": "GET, HEAD",
          "type": "string"
        }
      },
      "CacheControlNoCache": {
        "description": "Always `no-cache`: keep a copy, but ask again for the latest.",
        "schema": {
          "example": "no-cache",
          "type": "string"
        }
      },
      "CacheControlNoStore": {
        "description": "Always `no-store`.",
        "schema": {
          "example": "no-store",
          "type": "string"
        }
      },
      "CacheControlPublic": {
        "description": "`public, max-age=300`: verifiers may cache the document for the JWKS max-age (signing keys are published for longer than that before they sign).",
        "schema": {
          "example": "public, max-age=300",
          "type": "string"
        }
      },
      "ETag": {
        "description": "Strong entity tag of the JWK Set; changes exactly when the published key set does.",
        "schema": {
          "example": "\"3q2-7wAAAAAAAAAAAAAAAA\"",
          "type": "string"
        }
      },
      "Pragma": {
        "description": "Always `no-cache` (RFC 6749 §5.1).",
        "schema": {
          "example": "no-cache",
          "type": "string"
        }
      },
      "WWWAuthenticateActivation": {
        "description": "RFC 6750 §3 challenge: `Bearer realm=\"tessera\"` without a token, `Bearer realm=\"tessera\", error=\"invalid_token\"` for a token that is neither a valid identity token nor an admin token.",
        "schema": {
          "example": "Bearer realm=\"tessera\", error=\"invalid_token\"",
          "type": "string"
        }
      },
      "WWWAuthenticateAdmin": {
        "description": "RFC 6750 §3 challenge: `Bearer realm=\"tessera-admin\"` without a token, with `error=\"invalid_token\"` for a bad one, and with `error=\"insufficient_scope\", scope=\"tessera:admin\"` (on 403) for a token without the admin scope.",
        "schema": {
          "example": "Bearer realm=\"tessera-admin\", error=\"invalid_token\"",
          "type": "string"
        }
      },
      "WWWAuthenticateBasic": {
        "description": "RFC 6749 §5.2: the challenge of an `invalid_client` answer, always `Basic realm=\"tessera\"`.",
        "schema": {
          "example": "Basic realm=\"tessera\"",
          "type": "string"
        }
      }
    },
    "parameters": {
      "ActivationID": {
        "description": "An activation id (`act_...`).",
        "in": "path",
        "name": "id",
        "required": true,
        "schema": {
          "type": "string"
        }
      },
      "Cursor": {
        "description": "The `next` cursor of the previous page (`<created milliseconds>.<id>`).",
        "in": "query",
        "name": "after",
        "required": false,
        "schema": {
          "pattern": "^-?[0-9]+\\..+$",
          "type": "string"
        }
      },
      "Limit200": {
        "description": "Page size, 1 to 200 (default 50).",
        "in": "query",
        "name": "limit",
        "required": false,
        "schema": {
          "default": 50,
          "maximum": 200,
          "minimum": 1,
          "type": "integer"
        }
      },
      "RequestID": {
        "description": "A request id (`req_...`); for `review`, an activation id (`act_...`) is accepted too.",
        "in": "path",
        "name": "id",
        "required": true,
        "schema": {
          "type": "string"
        }
      }
    },
    "responses": {
      "ActivationBadRequest": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`invalid_request`: the Authorization header is not `Bearer <token>`, or a parameter or the body is invalid (a body that is not a JSON object of strings is answered in the same shape).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "ActivationConflict": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`conflict`: someone else decided first, the record kept changing, or it can no longer change that way.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "ActivationForbidden": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`forbidden`: the caller may not see or do this (not the holder, requester or an approver of the role), or `insufficient_scope`: an admin token without `tessera:admin`.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "ActivationNotFound": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`not_found`: no request or activation has the id, or no such action.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "ActivationUnauthorized": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "No token (`invalid_request`), or `invalid_token`: neither a valid identity token of a configured upstream nor an admin token.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          },
          "WWW-Authenticate": {
            "$ref": "#/components/headers/WWWAuthenticateActivation"
          }
        }
      },
      "ActivationUnavailable": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`temporarily_unavailable`: the store cannot be read, or the change could not be recorded, so it was not made.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "AdminBadRequest": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`invalid_request`: the Authorization header is not `Bearer <token>`, or a query parameter or the body is invalid.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "AdminConflict": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`conflict`: what the request names changed under it, or can no longer change.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "AdminForbidden": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`insufficient_scope`: the token lacks the scope `tessera:admin`.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          },
          "WWW-Authenticate": {
            "$ref": "#/components/headers/WWWAuthenticateAdmin"
          }
        }
      },
      "AdminNotFound": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`not_found`.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "AdminUnauthorized": {
        "content": {
          "application/json": {
            "example": {
              "error": "unauthorized",
              "error_description": "the admin API needs an admin token: Authorization: Bearer <token from `tessera admin token`>"
            },
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "No admin token (`error` is `unauthorized`), or `invalid_token`: not an admin token of this issuer, expired, unrecorded or revoked.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          },
          "WWW-Authenticate": {
            "$ref": "#/components/headers/WWWAuthenticateAdmin"
          }
        }
      },
      "AdminUnavailable": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/BearerError"
            }
          }
        },
        "description": "`temporarily_unavailable`: the store cannot be read or the call cannot be audited (an admin action that cannot be audited does not happen); for key operations also when the server has no key manager.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "MethodNotAllowed": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "The path does not support the method: `invalid_request` with `Allow` (RFC 9110 §15.5.6). Every path answers a GET, POST, PUT, DELETE or PATCH it does not support this way, except the two `{action}` paths; other methods (OPTIONS, HEAD where only GET is documented) and the `{action}` paths' other methods answer 404 `not_found`.",
        "headers": {
          "Allow": {
            "$ref": "#/components/headers/Allow"
          },
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "NotFound": {
        "content": {
          "application/json": {
            "example": {
              "error": "not_found",
              "error_description": "no such endpoint: GET /nothing"
            },
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "`not_found`.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "OAuthBadRequest": {
        "content": {
          "application/json": {
            "example": {
              "error": "invalid_scope",
              "error_description": "scope \"admin\" is not allowed for this client; allowed: read write"
            },
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "A request error: `invalid_request` (not form-encoded, malformed or repeated parameter, missing parameter, more than one client authentication method), `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope` or `invalid_target`.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "OAuthInvalidClient": {
        "content": {
          "application/json": {
            "example": {
              "error": "invalid_client",
              "error_description": "client authentication failed"
            },
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "`invalid_client`: client authentication failed or is missing (unknown clients and wrong secrets get the same answer).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          },
          "WWW-Authenticate": {
            "$ref": "#/components/headers/WWWAuthenticateBasic"
          }
        }
      },
      "OAuthServerError": {
        "content": {
          "application/json": {
            "example": {
              "error": "server_error",
              "error_description": "the token could not be recorded in the audit log, so it was not issued; try again"
            },
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "`server_error`: the store or the audit log is unavailable (a token is never issued unrecorded); try again.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "PayloadTooLarge": {
        "content": {
          "application/json": {
            "example": {
              "error": "invalid_request",
              "error_description": "the request body is larger than 65536 bytes"
            },
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "`invalid_request`: the body is larger than the endpoint accepts.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      },
      "TemporarilyUnavailable": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "`temporarily_unavailable` (RFC 6749 §4.1.2.1): too many requests in flight, or the store did not answer within the store timeout. Try again after `Retry-After` seconds.",
        "headers": {
          "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {
              "type": "integer"
            }
          }
        }
      },
      "UnsupportedMediaType": {
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/OAuthError"
            }
          }
        },
        "description": "`invalid_request`: a non-empty body that is neither `application/x-www-form-urlencoded` nor `application/json`.",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControlNoStore"
          }
        }
      }
    },
    "schemas": {
      "AccessRequest": {
        "description": "A request for a role that needs approval.",
        "properties": {
          "activation_id": {
            "description": "The activation an approval opened.",
            "type": "string"
          },
          "approvals": {
            "items": {
              "$ref": "#/components/schemas/Approval"
            },
            "type": "array"
          },
          "client_id": {
            "type": "string"
          },
          "closed_by": {
            "type": "string"
          },
          "comment": {
            "description": "The closing comment.",
            "type": "string"
          },
          "created_at": {
            "format": "date-time",
            "type": "string"
          },
          "expires_at": {
            "description": "When the request expires if still pending.",
            "format": "date-time",
            "type": "string"
          },
          "extends": {
            "description": "The activation an extension request extends.",
            "type": "string"
          },
          "id": {
            "example": "req_...",
            "type": "string"
          },
          "justification": {
            "type": "string"
          },
          "lifetime_seconds": {
            "type": "integer"
          },
          "request_uri": {
            "format": "uri",
            "type": "string"
          },
          "requester": {
            "description": "`<upstream>:<subject>`.",
            "type": "string"
          },
          "role": {
            "type": "string"
          },
          "stages": {
            "description": "Present while the role needs approval.",
            "items": {
              "$ref": "#/components/schemas/ApprovalStage"
            },
            "type": "array"
          },
          "state": {
            "enum": [
              "pending",
              "approved",
              "denied",
              "cancelled",
              "expired"
            ],
            "type": "string"
          },
          "ticket": {
            "type": "string"
          },
          "updated_at": {
            "format": "date-time",
            "type": "string"
          }
        },
        "required": [
          "id",
          "state",
          "requester",
          "role",
          "lifetime_seconds",
          "client_id",
          "created_at",
          "expires_at",
          "updated_at",
          "request_uri",
          "approvals"
        ],
        "type": "object"
      },
      "AccessRequestPage": {
        "properties": {
          "items": {
            "items": {
              "$ref": "#/components/schemas/AccessRequest"
            },
            "type": "array"
          },
          "next": {
            "description": "The `after` cursor of the next page; absent on the last page.",
            "type": "string"
          }
        },
        "required": [
          "items"
        ],
        "type": "object"
      },
      "ActionBody": {
        "additionalProperties": {
          "type": "string"
        },
        "description": "The fields of a decision or action, all strings. Form bodies: only these five are read. JSON bodies: an object whose members must all be strings.",
        "properties": {
          "by": {
            "description": "extend: a duration such as `30m` (required, or `lifetime`).",
            "type": "string"
          },
          "comment": {
            "description": "approve, deny, cancel, review (required for review), end.",
            "type": "string"
          },
          "justification": {
            "description": "extend: why, for an extension that needs approval.",
            "type": "string"
          },
          "lifetime": {
            "description": "extend: the same as `by`.",
            "type": "string"
          },
          "reason": {
            "description": "end: why the window ends early.",
            "type": "string"
          }
        },
        "type": "object"
      },
      "Activation": {
        "description": "An access window for one person and one role; every role token belongs to one (`act_id`).",
        "properties": {
          "break_glass": {
            "type": "boolean"
          },
          "client_id": {
            "type": "string"
          },
          "created_at": {
            "format": "date-time",
            "type": "string"
          },
          "end_reason": {
            "type": "string"
          },
          "ended_at": {
            "format": "date-time",
            "type": "string"
          },
          "ended_by": {
            "type": "string"
          },
          "ends_at": {
            "format": "date-time",
            "type": "string"
          },
          "extensions": {
            "minimum": 0,
            "type": "integer"
          },
          "holder": {
            "type": "string"
          },
          "id": {
            "example": "act_...",
            "type": "string"
          },
          "justification": {
            "type": "string"
          },
          "request_id": {
            "type": "string"
          },
          "review": {
            "description": "Break-glass uses only.",
            "properties": {
              "at": {
                "format": "date-time",
                "type": "string"
              },
              "comment": {
                "type": "string"
              },
              "reviewer": {
                "type": "string"
              },
              "state": {
                "enum": [
                  "awaiting_review",
                  "reviewed"
                ],
                "type": "string"
              }
            },
            "required": [
              "state"
            ],
            "type": "object"
          },
          "role": {
            "type": "string"
          },
          "start_by": {
            "format": "date-time",
            "type": "string"
          },
          "starts_at": {
            "format": "date-time",
            "type": "string"
          },
          "state": {
            "enum": [
              "approved",
              "active",
              "ended",
              "expired",
              "revoked"
            ],
            "type": "string"
          },
          "ticket": {
            "type": "string"
          },
          "tokens": {
            "minimum": 0,
            "type": "integer"
          },
          "window_seconds": {
            "type": "integer"
          }
        },
        "required": [
          "id",
          "state",
          "holder",
          "role",
          "client_id",
          "window_seconds",
          "break_glass",
          "extensions",
          "tokens",
          "created_at"
        ],
        "type": "object"
      },
      "ActivationExtension": {
        "description": "An extension that needs approval: the activation as it is, and the request created for it.",
        "properties": {
          "activation": {
            "$ref": "#/components/schemas/Activation"
          },
          "request": {
            "$ref": "#/components/schemas/AccessRequest"
          }
        },
        "required": [
          "activation",
          "request"
        ],
        "type": "object"
      },
      "ActivationPage": {
        "properties": {
          "items": {
            "items": {
              "$ref": "#/components/schemas/Activation"
            },
            "type": "array"
          },
          "next": {
            "description": "The `after` cursor of the next page; absent on the last page.",
            "type": "string"
          }
        },
        "required": [
          "items"
        ],
        "type": "object"
      },
      "AddAssignmentRequest": {
        "additionalProperties": false,
        "properties": {
          "from": {
            "description": "RFC 3339; default now",
            "type": "string"
          },
          "group": {
            "minLength": 1,
            "type": "string"
          },
          "reason": {
            "minLength": 1,
            "type": "string"
          },
          "role": {
            "minLength": 1,
            "type": "string"
          },
          "sponsor": {
            "minLength": 1,
            "type": "string"
          },
          "subject": {
            "description": "upstream:subject (or give group)",
            "minLength": 1,
            "type": "string"
          },
          "until": {
            "description": "RFC 3339; at most the role's max_assignment after the start",
            "type": "string"
          }
        },
        "required": [
          "role",
          "until",
          "reason"
        ],
        "type": "object"
      },
      "AddOnCallOverrideRequest": {
        "additionalProperties": false,
        "description": "Unknown members are refused.",
        "properties": {
          "from": {
            "description": "RFC 3339; default now.",
            "format": "date-time",
            "type": "string"
          },
          "reason": {
            "description": "At most 500 bytes.",
            "type": "string"
          },
          "schedule": {
            "description": "A schedule of the policy bundle.",
            "minLength": 1,
            "type": "string"
          },
          "until": {
            "description": "RFC 3339; after `from`, in the future, within the on-call window.",
            "format": "date-time",
            "type": "string"
          },
          "who": {
            "description": "An e-mail address, `upstream:subject` or an alias of people.aliases; at most 320 bytes.",
            "minLength": 1,
            "type": "string"
          }
        },
        "required": [
          "schedule",
          "who",
          "until"
        ],
        "type": "object"
      },
      "Approval": {
        "properties": {
          "approver": {
            "type": "string"
          },
          "at": {
            "format": "date-time",
            "type": "string"
          },
          "comment": {
            "type": "string"
          },
          "stage": {
            "minimum": 1,
            "type": "integer"
          },
          "via_escalation": {
            "enum": [
              true
            ],
            "type": "boolean"
          }
        },
        "required": [
          "approver",
          "stage",
          "at"
        ],
        "type": "object"
      },
      "ApprovalRequiredError": {
        "allOf": [
          {
            "$ref": "#/components/schemas/OAuthError"
          },
          {
            "properties": {
              "error": {
                "const": "approval_required"
              },
              "expires_at": {
                "description": "When the pending request expires.",
                "format": "date-time",
                "type": "string"
              },
              "request_id": {
                "example": "req_...",
                "type": "string"
              },
              "request_uri": {
                "format": "uri",
                "type": "string"
              },
              "stages": {
                "items": {
                  "$ref": "#/components/schemas/ApprovalStage"
                },
                "type": "array"
              },
              "state": {
                "enum": [
                  "pending",
                  "approved",
                  "denied",
                  "cancelled",
                  "expired"
                ],
                "type": "string"
              }
            },
            "required": [
              "error",
              "error_description",
              "request_id",
              "request_uri",
              "expires_at",
              "state"
            ],
            "type": "object"
          }
        ],
        "description": "403 `approval_required` of a token exchange: every condition holds but the role needs an approval first. Names the (new or existing) pending request, which the requester polls at `request_uri` and then collects with `request_id`."
      },
      "ApprovalStage": {
        "description": "One stage of a role's approval plan: who may approve, how many must, who has, and whether it is the stage waiting.",
        "properties": {
          "approved_by": {
            "description": "Approvers of this stage so far.",
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "approvers": {
            "properties": {
              "groups": {
                "items": {
                  "type": "string"
                },
                "type": "array"
              },
              "subjects": {
                "items": {
                  "type": "string"
                },
                "type": "array"
              }
            },
            "required": [
              "groups",
              "subjects"
            ],
            "type": "object"
          },
          "count": {
            "description": "Approvals the stage needs.",
            "minimum": 1,
            "type": "integer"
          },
          "escalate_after_seconds": {
            "type": "integer"
          },
          "escalate_to": {
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "stage": {
            "description": "1-based stage number.",
            "minimum": 1,
            "type": "integer"
          },
          "state": {
            "enum": [
              "waiting",
              "not_started",
              "approved"
            ],
            "type": "string"
          }
        },
        "required": [
          "stage",
          "count",
          "approvers",
          "approved_by",
          "state"
        ],
        "type": "object"
      },
      "Assignment": {
        "properties": {
          "changed_at": {
            "format": "date-time",
            "type": "string"
          },
          "changed_by": {
            "type": "string"
          },
          "created_at": {
            "format": "date-time",
            "type": "string"
          },
          "created_by": {
            "type": "string"
          },
          "from": {
            "format": "date-time",
            "type": "string"
          },
          "group": {
            "type": "string"
          },
          "id": {
            "type": "string"
          },
          "reason": {
            "type": "string"
          },
          "role": {
            "type": "string"
          },
          "sponsor": {
            "type": "string"
          },
          "state": {
            "enum": [
              "active",
              "removed",
              "expired"
            ],
            "type": "string"
          },
          "subject": {
            "description": "upstream:subject",
            "type": "string"
          },
          "until": {
            "format": "date-time",
            "type": "string"
          }
        },
        "required": [
          "id",
          "role",
          "state",
          "from",
          "until",
          "created_by",
          "created_at"
        ],
        "type": "object"
      },
      "AssignmentList": {
        "properties": {
          "assignments": {
            "items": {
              "$ref": "#/components/schemas/Assignment"
            },
            "type": "array"
          }
        },
        "required": [
          "assignments"
        ],
        "type": "object"
      },
      "AssignmentResponse": {
        "properties": {
          "assignment": {
            "$ref": "#/components/schemas/Assignment"
          }
        },
        "required": [
          "assignment"
        ],
        "type": "object"
      },
      "AuditLine": {
        "description": "One audit entry: the stored canonical JSON and its chain hash (hex). Re-serialising `entry` canonically gives back the bytes the hash covers.",
        "properties": {
          "entry": {
            "type": "object"
          },
          "hash": {
            "pattern": "^[0-9a-f]+$",
            "type": "string"
          }
        },
        "required": [
          "entry",
          "hash"
        ],
        "type": "object"
      },
      "AuditPage": {
        "properties": {
          "entries": {
            "items": {
              "$ref": "#/components/schemas/AuditLine"
            },
            "type": "array"
          },
          "next_after": {
            "description": "The `after` of the next page; null on the last page.",
            "type": [
              "integer",
              "null"
            ]
          }
        },
        "required": [
          "entries",
          "next_after"
        ],
        "type": "object"
      },
      "AuthorizationServerMetadata": {
        "description": "RFC 8414 metadata. Tessera has no authorization endpoint and issues no ID tokens, so neither is advertised.",
        "properties": {
          "grant_types_supported": {
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "introspection_endpoint": {
            "format": "uri",
            "type": "string"
          },
          "introspection_endpoint_auth_methods_supported": {
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "issuer": {
            "format": "uri",
            "type": "string"
          },
          "jwks_uri": {
            "format": "uri",
            "type": "string"
          },
          "revocation_endpoint": {
            "format": "uri",
            "type": "string"
          },
          "revocation_endpoint_auth_methods_supported": {
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "scopes_supported": {
            "description": "Client scopes and role names.",
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "tessera_login_providers": {
            "description": "Extension: the upstreams the `tessera` CLI may sign in with; absent when there are none.",
            "items": {
              "properties": {
                "client_id": {
                  "type": "string"
                },
                "id": {
                  "type": "string"
                },
                "issuer": {
                  "type": "string"
                },
                "scopes": {
                  "items": {
                    "type": "string"
                  },
                  "type": "array"
                }
              },
              "required": [
                "id",
                "issuer",
                "client_id",
                "scopes"
              ],
              "type": "object"
            },
            "type": "array"
          },
          "token_endpoint": {
            "format": "uri",
            "type": "string"
          },
          "token_endpoint_auth_methods_supported": {
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "token_endpoint_auth_signing_alg_values_supported": {
            "items": {
              "type": "string"
            },
            "type": "array"
          }
        },
        "required": [
          "issuer",
          "jwks_uri",
          "token_endpoint",
          "grant_types_supported",
          "token_endpoint_auth_methods_supported",
          "token_endpoint_auth_signing_alg_values_supported",
          "scopes_supported",
          "introspection_endpoint",
          "introspection_endpoint_auth_methods_supported",
          "revocation_endpoint",
          "revocation_endpoint_auth_methods_supported"
        ],
        "type": "object"
      },
      "BearerError": {
        "description": "The error body of the admin API and of the request/activation API: the same shape as the OAuth errors, always with both members. Admin API codes: `invalid_request`, `invalid_token`, `insufficient_scope`, `not_found`, `conflict`, `temporarily_unavailable`, and `unauthorized` when no token was sent. Request/activation API codes: `invalid_request`, `invalid_token`, `insufficient_scope`, `forbidden`, `not_found`, `conflict`, `temporarily_unavailable`.",
        "properties": {
          "error": {
            "example": "invalid_token",
            "type": "string"
          },
          "error_description": {
            "type": "string"
          }
        },
        "required": [
          "error",
          "error_description"
        ],
        "type": "object"
      },
      "ClientCredentialsRequest": {
        "allOf": [
          {
            "$ref": "#/components/schemas/TokenRequestParameters"
          },
          {
            "properties": {
              "grant_type": {
                "const": "client_credentials",
                "type": "string"
              }
            },
            "required": [
              "grant_type"
            ],
            "type": "object"
          }
        ],
        "description": "client_credentials (RFC 6749 §4.4). Token-exchange parameters sent with it are ignored, as unknown parameters are."
      },
      "ExplainRequest": {
        "additionalProperties": false,
        "description": "A hypothetical question, in the shape of a policy test case (policies/README.md): who, from where and when, asking for what. Parsed as YAML, of which JSON is the documented subset; aliases are refused, and so are unknown members.",
        "properties": {
          "context": {
            "additionalProperties": false,
            "properties": {
              "client": {
                "description": "The client id; default `tessera-cli`.",
                "type": "string"
              },
              "forwarded": {
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "items": {
                      "type": "string"
                    },
                    "type": "array"
                  }
                ]
              },
              "ip": {
                "description": "The client address (not with `peer`).",
                "type": "string"
              },
              "on_call": {
                "description": "The schedules the subject is assumed on call for; absent or null: the actual state.",
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "items": {
                      "type": "string"
                    },
                    "type": "array"
                  },
                  {
                    "type": "null"
                  }
                ]
              },
              "peer": {
                "description": "The TCP peer, with the forwarding headers below.",
                "type": "string"
              },
              "time": {
                "description": "RFC 3339 or relative to now (`+2h`); default now.",
                "type": "string"
              },
              "x_forwarded_for": {
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "items": {
                      "type": "string"
                    },
                    "type": "array"
                  }
                ]
              }
            },
            "type": [
              "object",
              "null"
            ]
          },
          "identity": {
            "additionalProperties": false,
            "properties": {
              "acr": {
                "type": "string"
              },
              "amr": {
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "items": {
                      "type": "string"
                    },
                    "type": "array"
                  }
                ]
              },
              "auth_time": {
                "description": "RFC 3339, `now`, or relative to the context's time (`-1h`).",
                "type": "string"
              },
              "claims": {
                "description": "Other claims of the identity token.",
                "type": "object"
              },
              "device_compliant": {
                "type": "boolean"
              },
              "email": {
                "type": "string"
              },
              "groups": {
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "items": {
                      "type": "string"
                    },
                    "type": "array"
                  }
                ]
              },
              "subject": {
                "type": "string"
              },
              "upstream": {
                "type": "string"
              }
            },
            "required": [
              "upstream",
              "subject"
            ],
            "type": "object"
          },
          "request": {
            "additionalProperties": false,
            "properties": {
              "break_glass": {
                "type": "boolean"
              },
              "justification": {
                "type": "string"
              },
              "lifetime": {
                "description": "A duration: `900`, `15m`.",
                "type": [
                  "string",
                  "integer"
                ]
              },
              "role": {
                "type": "string"
              },
              "ticket": {
                "type": "string"
              }
            },
            "required": [
              "role"
            ],
            "type": "object"
          }
        },
        "required": [
          "identity",
          "request"
        ],
        "type": "object"
      },
      "ExplainResponse": {
        "properties": {
          "lifetime_seconds": {
            "description": "The lifetime that would be granted; absent on deny.",
            "type": "integer"
          },
          "outcome": {
            "enum": [
              "allow",
              "approval_required",
              "deny"
            ],
            "type": "string"
          },
          "role": {
            "type": "string"
          },
          "rules": {
            "items": {
              "$ref": "#/components/schemas/RuleResult"
            },
            "type": "array"
          },
          "trace": {
            "description": "The decision as `tessera policy explain` prints it.",
            "type": "string"
          }
        },
        "required": [
          "role",
          "outcome",
          "rules",
          "trace"
        ],
        "type": "object"
      },
      "Health": {
        "properties": {
          "status": {
            "enum": [
              "ok"
            ],
            "type": "string"
          }
        },
        "required": [
          "status"
        ],
        "type": "object"
      },
      "IntrospectionRequest": {
        "description": "RFC 7662 §2.1. The client authenticates as on `/token` (not as a public client) and must be declared `can_introspect: true`.",
        "properties": {
          "client_assertion": {
            "description": "A JWT signed with one of the client's registered keys: `iss` and `sub` the client id, `aud` the issuer or the token endpoint, a `jti` used once, a lifetime of at most 300 s; at most 8 KiB.",
            "type": "string"
          },
          "client_assertion_type": {
            "description": "private_key_jwt (RFC 7523 §2.2); required with `client_assertion`.",
            "enum": [
              "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ],
            "type": "string"
          },
          "client_id": {
            "description": "The client id: required with `client_secret` (client_secret_post) and for public clients (token exchange only); optional with Basic credentials (must then match) and with `client_assertion` (must then match the assertion's `iss`).",
            "type": "string"
          },
          "client_secret": {
            "description": "client_secret_post (RFC 6749 §2.3.1). Use exactly one client authentication method.",
            "type": "string"
          },
          "token": {
            "type": "string"
          },
          "token_type_hint": {
            "description": "Accepted and ignored: Tessera only has access tokens.",
            "type": "string"
          }
        },
        "required": [
          "token"
        ],
        "type": "object"
      },
      "IntrospectionResponse": {
        "description": "RFC 7662 §2.2. An active token answers with all its claims plus `active`, `token_type` and `client_id`; any other token (expired, revoked, unknown, foreign or malformed) only `{\"active\":false}`.",
        "properties": {
          "acr": {
            "type": "string"
          },
          "act_id": {
            "description": "Token exchange: the activation the token belongs to.",
            "type": "string"
          },
          "active": {
            "type": "boolean"
          },
          "amr": {
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "aud": {
            "oneOf": [
              {
                "type": "string"
              },
              {
                "items": {
                  "type": "string"
                },
                "type": "array"
              }
            ]
          },
          "auth_time": {
            "type": "integer"
          },
          "break_glass": {
            "type": "boolean"
          },
          "client_id": {
            "type": "string"
          },
          "email": {
            "type": "string"
          },
          "exp": {
            "type": "integer"
          },
          "iat": {
            "type": "integer"
          },
          "idp": {
            "description": "Token exchange: the upstream the person signed in with.",
            "type": "string"
          },
          "iss": {
            "type": "string"
          },
          "jti": {
            "type": "string"
          },
          "justification": {
            "type": "string"
          },
          "nbf": {
            "type": "integer"
          },
          "roles": {
            "description": "Token exchange: the role.",
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "scope": {
            "type": "string"
          },
          "sub": {
            "type": "string"
          },
          "ticket": {
            "type": "string"
          },
          "token_type": {
            "enum": [
              "Bearer"
            ],
            "type": "string"
          }
        },
        "required": [
          "active"
        ],
        "type": "object"
      },
      "JWK": {
        "description": "A public signing key (RFC 7517): EC P-256 (ES256), OKP Ed25519 (EdDSA) or RSA (RS256, PS256). `kid` is the RFC 7638 thumbprint. Never carries private members.",
        "properties": {
          "alg": {
            "enum": [
              "ES256",
              "EdDSA",
              "RS256",
              "PS256"
            ],
            "type": "string"
          },
          "crv": {
            "enum": [
              "P-256",
              "Ed25519"
            ],
            "type": "string"
          },
          "e": {
            "type": "string"
          },
          "kid": {
            "type": "string"
          },
          "kty": {
            "enum": [
              "EC",
              "OKP",
              "RSA"
            ],
            "type": "string"
          },
          "n": {
            "type": "string"
          },
          "use": {
            "enum": [
              "sig"
            ],
            "type": "string"
          },
          "x": {
            "type": "string"
          },
          "y": {
            "type": "string"
          }
        },
        "required": [
          "kty",
          "kid",
          "alg",
          "use"
        ],
        "type": "object"
      },
      "JWKS": {
        "description": "RFC 7517 §5 JWK Set: every published key (states `next`, `current`, `previous`).",
        "properties": {
          "keys": {
            "items": {
              "$ref": "#/components/schemas/JWK"
            },
            "type": "array"
          }
        },
        "required": [
          "keys"
        ],
        "type": "object"
      },
      "OAuthError": {
        "description": "RFC 6749 §5.2 error body, used by every endpoint (routing errors too: 404 `not_found`, 405 `invalid_request`, 413 `invalid_request`). Codes of the OAuth endpoints: `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, `invalid_target`, `access_denied`, `approval_required`, `not_found`, `server_error`.",
        "properties": {
          "error": {
            "description": "The error code.",
            "example": "invalid_scope",
            "type": "string"
          },
          "error_description": {
            "description": "What was wrong and, where possible, how to fix it; never a secret, token or internal detail.",
            "type": "string"
          }
        },
        "required": [
          "error"
        ],
        "type": "object"
      },
      "OnCallOverride": {
        "properties": {
          "changed_at": {
            "format": "date-time",
            "type": "string"
          },
          "changed_by": {
            "type": "string"
          },
          "created_at": {
            "format": "date-time",
            "type": "string"
          },
          "created_by": {
            "type": "string"
          },
          "from": {
            "format": "date-time",
            "type": "string"
          },
          "id": {
            "type": "string"
          },
          "reason": {
            "type": "string"
          },
          "schedule": {
            "type": "string"
          },
          "state": {
            "enum": [
              "active",
              "removed",
              "expired"
            ],
            "type": "string"
          },
          "until": {
            "format": "date-time",
            "type": "string"
          },
          "who": {
            "type": "string"
          }
        },
        "required": [
          "id",
          "schedule",
          "who",
          "state",
          "from",
          "until",
          "created_by",
          "created_at"
        ],
        "type": "object"
      },
      "OnCallOverrideResponse": {
        "properties": {
          "override": {
            "$ref": "#/components/schemas/OnCallOverride"
          }
        },
        "required": [
          "override"
        ],
        "type": "object"
      },
      "OnCallOverview": {
        "properties": {
          "at": {
            "format": "date-time",
            "type": "string"
          },
          "overrides": {
            "description": "Overrides not yet ended.",
            "items": {
              "$ref": "#/components/schemas/OnCallOverride"
            },
            "type": "array"
          },
          "schedules": {
            "items": {
              "$ref": "#/components/schemas/OnCallSchedule"
            },
            "type": "array"
          }
        },
        "required": [
          "at",
          "schedules",
          "overrides"
        ],
        "type": "object"
      },
      "OnCallSchedule": {
        "properties": {
          "available": {
            "type": "boolean"
          },
          "id": {
            "type": "string"
          },
          "kind": {
            "type": "string"
          },
          "last_error": {
            "type": "string"
          },
          "on_call": {
            "items": {
              "properties": {
                "person": {
                  "type": "string"
                },
                "until": {
                  "format": "date-time",
                  "type": "string"
                }
              },
              "required": [
                "person",
                "until"
              ],
              "type": "object"
            },
            "type": "array"
          },
          "source": {
            "type": "string"
          },
          "sync_age_seconds": {
            "type": "integer"
          },
          "synced_at": {
            "description": "The last good sync of an imported schedule.",
            "format": "date-time",
            "type": "string"
          },
          "time_zone": {
            "example": "Europe/Berlin",
            "type": "string"
          },
          "unavailable_reason": {
            "type": "string"
          }
        },
        "required": [
          "id",
          "source",
          "kind",
          "time_zone",
          "available",
          "on_call"
        ],
        "type": "object"
      },
      "Readiness": {
        "properties": {
          "clients": {
            "minimum": 0,
            "type": "integer"
          },
          "published_keys": {
            "minimum": 0,
            "type": "integer"
          },
          "signing_kid": {
            "description": "The kid of the current signing key of the default algorithm.",
            "type": "string"
          },
          "status": {
            "enum": [
              "ready"
            ],
            "type": "string"
          }
        },
        "required": [
          "status",
          "signing_kid",
          "published_keys",
          "clients"
        ],
        "type": "object"
      },
      "RevocationRequest": {
        "description": "RFC 7009 §2.1. The client authenticates as on `/token`; it may revoke only tokens issued to it.",
        "properties": {
          "client_assertion": {
            "description": "A JWT signed with one of the client's registered keys: `iss` and `sub` the client id, `aud` the issuer or the token endpoint, a `jti` used once, a lifetime of at most 300 s; at most 8 KiB.",
            "type": "string"
          },
          "client_assertion_type": {
            "description": "private_key_jwt (RFC 7523 §2.2); required with `client_assertion`.",
            "enum": [
              "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ],
            "type": "string"
          },
          "client_id": {
            "description": "The client id: required with `client_secret` (client_secret_post) and for public clients (token exchange only); optional with Basic credentials (must then match) and with `client_assertion` (must then match the assertion's `iss`).",
            "type": "string"
          },
          "client_secret": {
            "description": "client_secret_post (RFC 6749 §2.3.1). Use exactly one client authentication method.",
            "type": "string"
          },
          "token": {
            "type": "string"
          },
          "token_type_hint": {
            "description": "Accepted and ignored: Tessera only has access tokens.",
            "type": "string"
          }
        },
        "required": [
          "token"
        ],
        "type": "object"
      },
      "RevokeKeyRequest": {
        "additionalProperties": false,
        "description": "Emergency revocation; unknown members are refused.",
        "properties": {
          "kid": {
            "minLength": 1,
            "type": "string"
          },
          "reason": {
            "description": "Why the key is revoked (not blank).",
            "minLength": 1,
            "type": "string"
          }
        },
        "required": [
          "kid",
          "reason"
        ],
        "type": "object"
      },
      "RevokeKeyResponse": {
        "properties": {
          "key": {
            "$ref": "#/components/schemas/SigningKey"
          },
          "replacement_kid": {
            "type": [
              "string",
              "null"
            ]
          },
          "tokens_revoked": {
            "minimum": 0,
            "type": "integer"
          }
        },
        "required": [
          "key",
          "tokens_revoked",
          "replacement_kid"
        ],
        "type": "object"
      },
      "RotateKeyRequest": {
        "additionalProperties": false,
        "description": "Optional body (empty is the default algorithm); unknown members are refused.",
        "properties": {
          "alg": {
            "enum": [
              "ES256",
              "RS256",
              "PS256",
              "EdDSA"
            ],
            "type": "string"
          }
        },
        "type": "object"
      },
      "RotateKeyResponse": {
        "properties": {
          "key": {
            "$ref": "#/components/schemas/SigningKey"
          }
        },
        "required": [
          "key"
        ],
        "type": "object"
      },
      "RuleResult": {
        "properties": {
          "reason": {
            "type": "string"
          },
          "rule": {
            "example": "networks",
            "type": "string"
          },
          "status": {
            "description": "`met`, `failed`, or the approval status of an approval rule.",
            "type": "string"
          }
        },
        "required": [
          "rule",
          "status",
          "reason"
        ],
        "type": "object"
      },
      "SigningKey": {
        "properties": {
          "activates_at": {
            "format": "date-time",
            "type": "string"
          },
          "alg": {
            "enum": [
              "ES256",
              "EdDSA",
              "RS256",
              "PS256"
            ],
            "type": "string"
          },
          "created": {
            "format": "date-time",
            "type": "string"
          },
          "kid": {
            "type": "string"
          },
          "remove_after": {
            "format": "date-time",
            "type": "string"
          },
          "retired_at": {
            "format": "date-time",
            "type": "string"
          },
          "revocation_reason": {
            "type": "string"
          },
          "revoked_at": {
            "format": "date-time",
            "type": "string"
          },
          "state": {
            "enum": [
              "next",
              "current",
              "previous",
              "revoked"
            ],
            "type": "string"
          }
        },
        "required": [
          "kid",
          "alg",
          "state",
          "created"
        ],
        "type": "object"
      },
      "SigningKeyList": {
        "properties": {
          "keys": {
            "items": {
              "$ref": "#/components/schemas/SigningKey"
            },
            "type": "array"
          }
        },
        "required": [
          "keys"
        ],
        "type": "object"
      },
      "TokenExchangeRequest": {
        "allOf": [
          {
            "$ref": "#/components/schemas/TokenRequestParameters"
          },
          {
            "properties": {
              "break_glass": {
                "description": "Tessera extension (token exchange): emergency access for a role that allows it; reviewed afterwards.",
                "enum": [
                  "true",
                  "false"
                ],
                "type": "string"
              },
              "grant_type": {
                "const": "urn:ietf:params:oauth:grant-type:token-exchange",
                "type": "string"
              },
              "justification": {
                "description": "Tessera extension (token exchange): why the access is needed.",
                "type": "string"
              },
              "request_id": {
                "description": "Tessera extension (token exchange): the id of the caller's approved request for this role, to collect its token.",
                "type": "string"
              },
              "requested_lifetime": {
                "description": "Tessera extension (token exchange): the lifetime asked for, in seconds or with a unit (`900`, `15m`); the role's rules cap it.",
                "example": "15m",
                "pattern": "^\\s*[0-9]+[smhd]?\\s*$",
                "type": "string"
              },
              "requested_token_type": {
                "description": "Token exchange: only access tokens are issued.",
                "enum": [
                  "urn:ietf:params:oauth:token-type:access_token"
                ],
                "type": "string"
              },
              "subject_token": {
                "description": "Token exchange: an identity token from a configured upstream IdP.",
                "type": "string"
              },
              "subject_token_type": {
                "enum": [
                  "urn:ietf:params:oauth:token-type:access_token",
                  "urn:ietf:params:oauth:token-type:id_token",
                  "urn:ietf:params:oauth:token-type:jwt"
                ],
                "type": "string"
              },
              "ticket": {
                "description": "Tessera extension (token exchange): a change or incident ticket.",
                "type": "string"
              }
            },
            "required": [
              "grant_type",
              "subject_token",
              "subject_token_type"
            ],
            "type": "object"
          }
        ],
        "description": "Token exchange (RFC 8693 §2.1)."
      },
      "TokenRequest": {
        "description": "The token request (RFC 6749 §4.4, RFC 8693 §2.1). Parameters other than `resource` and `audience` may appear once; an empty value counts as absent. Unknown parameters are ignored.\n\n`client_credentials`: `scope` (space-separated, each allowed for the client; default all of them), `resource`/`audience` (each allowed for the client; default all of them). Public clients may not use it.\n\nToken exchange: `subject_token` and `subject_token_type` are required; `scope` names exactly one role; `requested_token_type`, if sent, must be the access-token URN; `audience`/`resource` narrow the role's audiences; and Tessera's extension parameters `requested_lifetime`, `justification`, `ticket`, `request_id` and `break_glass`.",
        "oneOf": [
          {
            "$ref": "#/components/schemas/ClientCredentialsRequest"
          },
          {
            "$ref": "#/components/schemas/TokenExchangeRequest"
          }
        ]
      },
      "TokenRequestParameters": {
        "description": "What every token request may carry: client authentication (use exactly one method), scopes and audiences.",
        "properties": {
          "audience": {
            "description": "RFC 8693 audiences, repeatable.",
            "items": {
              "type": "string"
            },
            "type": "array"
          },
          "client_assertion": {
            "description": "A JWT signed with one of the client's registered keys: `iss` and `sub` the client id, `aud` the issuer or the token endpoint, a `jti` used once, a lifetime of at most 300 s; at most 8 KiB.",
            "type": "string"
          },
          "client_assertion_type": {
            "description": "private_key_jwt (RFC 7523 §2.2); required with `client_assertion`.",
            "enum": [
              "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ],
            "type": "string"
          },
          "client_id": {
            "description": "The client id: required with `client_secret` (client_secret_post) and for public clients (token exchange only); optional with Basic credentials (must then match) and with `client_assertion` (must then match the assertion's `iss`).",
            "type": "string"
          },
          "client_secret": {
            "description": "client_secret_post (RFC 6749 §2.3.1). Use exactly one client authentication method.",
            "type": "string"
          },
          "resource": {
            "description": "RFC 8707 resource indicators, repeatable: absolute URIs without a fragment.",
            "items": {
              "format": "uri",
              "type": "string"
            },
            "type": "array"
          },
          "scope": {
            "description": "client_credentials: space-separated scopes. Token exchange: exactly one role name (lowercase letters, digits, `-`, `_`, `.`).",
            "example": "read",
            "type": "string"
          }
        },
        "type": "object"
      },
      "TokenResponse": {
        "description": "RFC 6749 §5.1 / RFC 8693 §2.2.1. The access token is a JWT (RFC 9068, `typ` `at+jwt`).",
        "properties": {
          "access_token": {
            "type": "string"
          },
          "expires_in": {
            "description": "Lifetime in seconds.",
            "minimum": 0,
            "type": "integer"
          },
          "issued_token_type": {
            "description": "Present for token exchange.",
            "enum": [
              "urn:ietf:params:oauth:token-type:access_token"
            ],
            "type": "string"
          },
          "scope": {
            "description": "The granted scopes, space-separated; absent when none.",
            "type": "string"
          },
          "token_type": {
            "enum": [
              "Bearer"
            ],
            "type": "string"
          }
        },
        "required": [
          "access_token",
          "token_type",
          "expires_in"
        ],
        "type": "object"
      }
    },
    "securitySchemes": {
      "adminToken": {
        "bearerFormat": "JWT",
        "description": "An admin token: an access token this issuer signed for its admin audience `<issuer>/admin` with scope `tessera:admin`, `typ` `at+jwt`, at most one hour, recorded when issued and not revoked (`tessera admin token`).",
        "scheme": "bearer",
        "type": "http"
      },
      "clientSecretBasic": {
        "description": "client_secret_basic (RFC 6749 §2.3.1): `Authorization: Basic base64(urlencode(client_id):urlencode(client_secret))`. The other client authentication methods are body parameters: client_secret_post (`client_id`, `client_secret`), private_key_jwt (`client_assertion_type`, `client_assertion`), and `client_id` alone for public clients (token exchange only).",
        "scheme": "basic",
        "type": "http"
      },
      "identityToken": {
        "bearerFormat": "JWT",
        "description": "A person's identity token from a configured upstream IdP, verified exactly as a token-exchange subject token (`tessera dev token` identities under `--dev`).",
        "scheme": "bearer",
        "type": "http"
      }
    }
  },
  "info": {
    "description": "Tessera authenticates a caller, checks what it may have, and answers with a short-lived JWT access token (RFC 9068) that resource servers verify locally against the published JWKS.\n\nEvery error is JSON `{\"error\", \"error_description\"}` (RFC 6749 §5.2, RFC 6750 §3) with `Cache-Control: no-store`. Unknown paths answer 404 `not_found`; a method a path does not support answers 405 `invalid_request` with `Allow` (see `components/responses/MethodNotAllowed` for the exceptions). Read-only routes answer HEAD as GET without a body. An unexpected internal error answers 500 `server_error` without detail.",
    "summary": "Just-in-time access tokens: OAuth 2.0 token issuer with token exchange, approvals and an audited admin API.",
    "title": "Tessera",
    "version": "0.1.0"
  },
  "openapi": "3.1.0",
  "paths": {
    "/.well-known/jwks.json": {
      "get": {
        "description": "Served from bytes rebuilt only when the key set changes. Compare with `If-None-Match` (weakly; `*` matches) for a 304.",
        "operationId": "getJWKS",
        "parameters": [
          {
            "description": "Entity tags (or `*`) of a cached copy.",
            "in": "header",
            "name": "If-None-Match",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/jwk-set+json": {
                "schema": {
                  "$ref": "#/components/schemas/JWKS"
                }
              }
            },
            "description": "The JWK Set.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              },
              "ETag": {
                "$ref": "#/components/headers/ETag"
              }
            }
          },
          "304": {
            "description": "The cached copy is current. No body.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              },
              "ETag": {
                "$ref": "#/components/headers/ETag"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "The published signing keys (RFC 7517 JWK Set)",
        "tags": [
          "discovery"
        ]
      },
      "head": {
        "description": "The same as GET, without a body.",
        "operationId": "headJWKS",
        "parameters": [
          {
            "description": "Entity tags (or `*`) of a cached copy.",
            "in": "header",
            "name": "If-None-Match",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The JWK Set.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              },
              "ETag": {
                "$ref": "#/components/headers/ETag"
              }
            }
          },
          "304": {
            "description": "The cached copy is current. No body.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              },
              "ETag": {
                "$ref": "#/components/headers/ETag"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "The JWK Set (headers only)",
        "tags": [
          "discovery"
        ]
      }
    },
    "/.well-known/oauth-authorization-server": {
      "get": {
        "operationId": "getAuthorizationServerMetadata",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AuthorizationServerMetadata"
                }
              }
            },
            "description": "The metadata document.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "Authorization server metadata (RFC 8414)",
        "tags": [
          "discovery"
        ]
      },
      "head": {
        "description": "The same as GET, without a body.",
        "operationId": "headAuthorizationServerMetadata",
        "responses": {
          "200": {
            "description": "The metadata document.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "Authorization server metadata (RFC 8414) (headers only)",
        "tags": [
          "discovery"
        ]
      }
    },
    "/.well-known/openid-configuration": {
      "get": {
        "operationId": "getOpenIDConfiguration",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AuthorizationServerMetadata"
                }
              }
            },
            "description": "The metadata document.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "The RFC 8414 metadata, for verifiers that only look here",
        "tags": [
          "discovery"
        ]
      },
      "head": {
        "description": "The same as GET, without a body.",
        "operationId": "headOpenIDConfiguration",
        "responses": {
          "200": {
            "description": "The metadata document.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlPublic"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "The RFC 8414 metadata, for verifiers that only look here (headers only)",
        "tags": [
          "discovery"
        ]
      }
    },
    "/activations": {
      "get": {
        "description": "A person sees their own activations and those of the roles they approve (`mine=true`: only their own); admins see all. Newest first, paged with `next`.",
        "operationId": "listActivations",
        "parameters": [
          {
            "in": "query",
            "name": "state",
            "required": false,
            "schema": {
              "enum": [
                "approved",
                "active",
                "ended",
                "expired",
                "revoked"
              ],
              "type": "string"
            }
          },
          {
            "description": "`true`: break-glass uses not yet reviewed.",
            "in": "query",
            "name": "awaiting_review",
            "required": false,
            "schema": {
              "type": "boolean"
            }
          },
          {
            "description": "`true`: only the caller's activations.",
            "in": "query",
            "name": "mine",
            "required": false,
            "schema": {
              "type": "boolean"
            }
          },
          {
            "$ref": "#/components/parameters/Limit200"
          },
          {
            "$ref": "#/components/parameters/Cursor"
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ActivationPage"
                }
              }
            },
            "description": "One page of activations.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/ActivationBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/ActivationUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/ActivationForbidden"
          },
          "503": {
            "$ref": "#/components/responses/ActivationUnavailable"
          }
        },
        "security": [
          {
            "identityToken": []
          },
          {
            "adminToken": []
          }
        ],
        "summary": "List activations",
        "tags": [
          "activations"
        ]
      }
    },
    "/activations/{id}": {
      "get": {
        "description": "For the holder, approvers of the role and admins.",
        "operationId": "getActivation",
        "parameters": [
          {
            "$ref": "#/components/parameters/ActivationID"
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Activation"
                }
              }
            },
            "description": "The activation.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/ActivationBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/ActivationUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/ActivationForbidden"
          },
          "404": {
            "$ref": "#/components/responses/ActivationNotFound"
          },
          "503": {
            "$ref": "#/components/responses/ActivationUnavailable"
          }
        },
        "security": [
          {
            "identityToken": []
          },
          {
            "adminToken": []
          }
        ],
        "summary": "One activation",
        "tags": [
          "activations"
        ]
      }
    },
    "/activations/{id}/{action}": {
      "post": {
        "description": "`end` (`reason`, or `comment`): the holder ends it (`ended`), approvers of the role and admins revoke it (`revoked`); every token issued under it is revoked. `extend` (`by=30m`, or `lifetime`; optional `justification`): the holder, within the role's limits; when the extension needs approval the answer is the activation and the new request. `review` (`comment` required): acknowledges a break-glass use. Another action is a 404.",
        "operationId": "actOnActivation",
        "parameters": [
          {
            "$ref": "#/components/parameters/ActivationID"
          },
          {
            "in": "path",
            "name": "action",
            "required": true,
            "schema": {
              "enum": [
                "end",
                "extend",
                "review"
              ],
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ActionBody"
              }
            },
            "application/x-www-form-urlencoded": {
              "schema": {
                "$ref": "#/components/schemas/ActionBody"
              }
            }
          },
          "description": "Optional; form-encoded or a JSON object of strings, at most 16 KiB.",
          "required": false
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "anyOf": [
                    {
                      "$ref": "#/components/schemas/Activation"
                    },
                    {
                      "$ref": "#/components/schemas/ActivationExtension"
                    }
                  ]
                }
              }
            },
            "description": "The activation, or for an extension that needs approval the activation and its request.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/ActivationBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/ActivationUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/ActivationForbidden"
          },
          "404": {
            "$ref": "#/components/responses/ActivationNotFound"
          },
          "409": {
            "$ref": "#/components/responses/ActivationConflict"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "503": {
            "$ref": "#/components/responses/ActivationUnavailable"
          }
        },
        "security": [
          {
            "identityToken": []
          },
          {
            "adminToken": []
          }
        ],
        "summary": "End, extend or review an activation",
        "tags": [
          "activations"
        ]
      }
    },
    "/admin/assignments": {
      "get": {
        "operationId": "listAssignments",
        "parameters": [
          {
            "description": "Only this role.",
            "in": "query",
            "name": "role",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "Only those ending within this long (14d).",
            "in": "query",
            "name": "expiring",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AssignmentList"
                }
              }
            },
            "description": "The assignments.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Eligibility assignments in force, soonest end first",
        "tags": [
          "admin"
        ]
      },
      "post": {
        "description": "Audited (`eligibility.assigned`), shared by replicas. Body: JSON, at most 4 KiB, read whatever its Content-Type.",
        "operationId": "addAssignment",
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/AddAssignmentRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AssignmentResponse"
                }
              }
            },
            "description": "The assignment.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "409": {
            "$ref": "#/components/responses/AdminConflict"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Make a person or group eligible for a role until a time",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/assignments/{id}": {
      "delete": {
        "description": "Audited (`eligibility.removed`). 409 when the assignment is no longer active or changed meanwhile.",
        "operationId": "removeAssignment",
        "parameters": [
          {
            "description": "The assignment's id.",
            "in": "path",
            "name": "id",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AssignmentResponse"
                }
              }
            },
            "description": "The removed assignment (state `removed`).",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "404": {
            "$ref": "#/components/responses/AdminNotFound"
          },
          "409": {
            "$ref": "#/components/responses/AdminConflict"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "End an eligibility assignment before its time",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/audit": {
      "get": {
        "description": "Unknown or repeated parameters are a 400, so a typo never widens a query. The read is itself audited (`admin.audit_read`).",
        "operationId": "getAuditEntries",
        "parameters": [
          {
            "in": "query",
            "name": "subject",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "in": "query",
            "name": "client_id",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "in": "query",
            "name": "role",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "example": "token.issued",
            "in": "query",
            "name": "event",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "RFC 3339 (write `+` offsets as `%2B`, or use `Z`).",
            "in": "query",
            "name": "since",
            "required": false,
            "schema": {
              "format": "date-time",
              "type": "string"
            }
          },
          {
            "description": "RFC 3339 (write `+` offsets as `%2B`, or use `Z`).",
            "in": "query",
            "name": "until",
            "required": false,
            "schema": {
              "format": "date-time",
              "type": "string"
            }
          },
          {
            "description": "A sequence number: the `next_after` of the previous page.",
            "in": "query",
            "name": "after",
            "required": false,
            "schema": {
              "minimum": 0,
              "type": "integer"
            }
          },
          {
            "in": "query",
            "name": "limit",
            "required": false,
            "schema": {
              "default": 100,
              "maximum": 1000,
              "minimum": 1,
              "type": "integer"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AuditPage"
                }
              }
            },
            "description": "One page of entries.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Audit entries, filtered and paged",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/explain": {
      "post": {
        "description": "Every rule with its status and reason, for a hypothetical identity, context and request; issues nothing. The question is audited (`admin.explain`). The body is read whatever its Content-Type (at most 64 KiB).",
        "operationId": "explainDecision",
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ExplainRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ExplainResponse"
                }
              }
            },
            "description": "The decision.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "What-if: what the policy engine would decide",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/keys": {
      "get": {
        "operationId": "listSigningKeys",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/SigningKeyList"
                }
              }
            },
            "description": "The keys.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Signing keys with their states and timelines",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/keys/revoke": {
      "post": {
        "description": "Body (JSON, at most 4 KiB, read whatever its Content-Type): `{\"kid\":\"...\",\"reason\":\"...\"}`. Unpublishes the key, deletes its private part and revokes the tokens it signed; a refusal by the key manager (unknown kid, the last current key...) is a 400.",
        "operationId": "revokeSigningKey",
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/RevokeKeyRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/RevokeKeyResponse"
                }
              }
            },
            "description": "The revoked key.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Emergency revocation of a signing key",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/keys/rotate": {
      "post": {
        "description": "Body (JSON, at most 4 KiB, read whatever its Content-Type): `{\"alg\":\"ES256\"}`, or empty for the default algorithm. Audited with the admin as its actor.",
        "operationId": "rotateSigningKey",
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/RotateKeyRequest"
              }
            }
          },
          "required": false
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/RotateKeyResponse"
                }
              }
            },
            "description": "The new key.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Rotate: create the next key of an algorithm",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/oncall": {
      "get": {
        "operationId": "getOnCall",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OnCallOverview"
                }
              }
            },
            "description": "The overview.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "404": {
            "$ref": "#/components/responses/AdminNotFound",
            "description": "`not_found`: the policy bundle declares no on-call schedules."
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "On-call schedules: source, sync age, who is on call, overrides in force",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/oncall/overrides": {
      "post": {
        "description": "Laid over the schedule (every layer, or everyone a feed has on call) from `from` to `until`; shared by replicas, audited (`oncall.override_added`). Body: JSON, at most 4 KiB, read whatever its Content-Type.",
        "operationId": "addOnCallOverride",
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/AddOnCallOverrideRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OnCallOverrideResponse"
                }
              }
            },
            "description": "The override.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "404": {
            "$ref": "#/components/responses/AdminNotFound",
            "description": "`not_found`: the policy bundle declares no on-call schedules."
          },
          "409": {
            "$ref": "#/components/responses/AdminConflict"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Add an on-call override",
        "tags": [
          "admin"
        ]
      }
    },
    "/admin/oncall/overrides/{id}": {
      "delete": {
        "description": "Audited (`oncall.override_removed`). 409 when the override is no longer active or changed meanwhile.",
        "operationId": "removeOnCallOverride",
        "parameters": [
          {
            "description": "The override's id.",
            "in": "path",
            "name": "id",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OnCallOverrideResponse"
                }
              }
            },
            "description": "The removed override (state `removed`).",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/AdminBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/AdminUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/AdminForbidden"
          },
          "404": {
            "$ref": "#/components/responses/AdminNotFound",
            "description": "`not_found`: no override has the id, or the bundle declares no on-call schedules."
          },
          "409": {
            "$ref": "#/components/responses/AdminConflict"
          },
          "503": {
            "$ref": "#/components/responses/AdminUnavailable"
          }
        },
        "security": [
          {
            "adminToken": []
          }
        ],
        "summary": "Remove an on-call override before its end",
        "tags": [
          "admin"
        ]
      }
    },
    "/audit/checkpoint": {
      "get": {
        "description": "A compact JWS (`typ` `tessera-audit-checkpoint+jwt`) signed with the issuer's current key, whose payload `{iss, sequence, hash, iat}` says the audit log had `sequence` entries ending in `hash`; verify it against the JWKS. Public on purpose, so outside parties can keep copies.",
        "operationId": "getAuditCheckpoint",
        "responses": {
          "200": {
            "content": {
              "application/jwt": {
                "schema": {
                  "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$",
                  "type": "string"
                }
              }
            },
            "description": "The checkpoint.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoCache"
              }
            }
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OAuthError"
                }
              }
            },
            "description": "`not_found`: no checkpoint has been taken yet (the log is empty, checkpoints are disabled, or the first interval has not passed).",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "The latest signed audit checkpoint",
        "tags": [
          "audit"
        ]
      },
      "head": {
        "description": "The same as GET, without a body.",
        "operationId": "headAuditCheckpoint",
        "responses": {
          "200": {
            "description": "The checkpoint.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoCache"
              }
            }
          },
          "404": {
            "description": "`not_found`: no checkpoint has been taken yet (the log is empty, checkpoints are disabled, or the first interval has not passed).",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "The audit checkpoint (headers only)",
        "tags": [
          "audit"
        ]
      }
    },
    "/healthz": {
      "get": {
        "operationId": "getHealthz",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "example": {
                  "status": "ok"
                },
                "schema": {
                  "$ref": "#/components/schemas/Health"
                }
              }
            },
            "description": "Alive.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          }
        },
        "security": [],
        "summary": "Liveness: the process answers",
        "tags": [
          "health"
        ]
      },
      "head": {
        "description": "The same as GET, without a body.",
        "operationId": "headHealthz",
        "responses": {
          "200": {
            "description": "Alive.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          }
        },
        "security": [],
        "summary": "Liveness (headers only)",
        "tags": [
          "health"
        ]
      }
    },
    "/introspect": {
      "post": {
        "description": "For confidential clients declared `can_introspect: true`. Active while the token's signature verifies with a published key, it has not expired (no leeway), it was recorded when issued and it is not revoked. A store failure is a `server_error`, never an answer.",
        "operationId": "introspect",
        "requestBody": {
          "content": {
            "application/x-www-form-urlencoded": {
              "schema": {
                "$ref": "#/components/schemas/IntrospectionRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "example": {
                  "active": false
                },
                "schema": {
                  "$ref": "#/components/schemas/IntrospectionResponse"
                }
              }
            },
            "description": "The token's state.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/OAuthBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/OAuthInvalidClient"
          },
          "403": {
            "content": {
              "application/json": {
                "example": {
                  "error": "unauthorized_client",
                  "error_description": "client demo may not introspect tokens (set can_introspect: true in clients.yaml)"
                },
                "schema": {
                  "$ref": "#/components/schemas/OAuthError"
                }
              }
            },
            "description": "`unauthorized_client`: the client may not introspect (not `can_introspect`, or public).",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "500": {
            "$ref": "#/components/responses/OAuthServerError"
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [
          {
            "clientSecretBasic": []
          },
          {}
        ],
        "summary": "Token introspection (RFC 7662)",
        "tags": [
          "oauth"
        ]
      }
    },
    "/metrics": {
      "get": {
        "description": "The text exposition format 0.0.4: requests by route and status class with latency, tokens issued and denied, audit commits, on-call sync age, overrides and assignments in force, build information.",
        "operationId": "getMetrics",
        "responses": {
          "200": {
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "The metrics."
          }
        },
        "security": [],
        "summary": "Prometheus metrics",
        "tags": [
          "operations"
        ]
      },
      "head": {
        "operationId": "headMetrics",
        "responses": {
          "200": {
            "description": "The same as GET, without a body."
          }
        },
        "security": [],
        "summary": "Prometheus metrics, headers only",
        "tags": [
          "operations"
        ]
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "getOpenAPI",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "The OpenAPI 3.1 document of every route."
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "This document",
        "tags": [
          "discovery"
        ]
      },
      "head": {
        "operationId": "headOpenAPI",
        "responses": {
          "200": {
            "description": "The same as GET, without a body."
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [],
        "summary": "This document, headers only",
        "tags": [
          "discovery"
        ]
      }
    },
    "/readyz": {
      "get": {
        "description": "The server does not listen before they are, so every answer is 200.",
        "operationId": "getReadyz",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Readiness"
                }
              }
            },
            "description": "Ready.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "properties": {
                    "failing": {
                      "additionalProperties": {
                        "type": "string"
                      },
                      "type": "object"
                    },
                    "status": {
                      "const": "unavailable"
                    }
                  },
                  "required": [
                    "status",
                    "failing"
                  ],
                  "type": "object"
                }
              }
            },
            "description": "A dependency is failing: `{\"status\":\"unavailable\",\"failing\":{\"store\":\"...\"}}`.",
            "headers": {
              "Retry-After": {
                "schema": {
                  "type": "integer"
                }
              }
            }
          }
        },
        "security": [],
        "summary": "Readiness: keys and policies are loaded",
        "tags": [
          "health"
        ]
      },
      "head": {
        "description": "The same as GET, without a body.",
        "operationId": "headReadyz",
        "responses": {
          "200": {
            "description": "Ready.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "503": {
            "description": "A dependency is failing: `{\"status\":\"unavailable\",\"failing\":{\"store\":\"...\"}}`.",
            "headers": {
              "Retry-After": {
                "schema": {
                  "type": "integer"
                }
              }
            }
          }
        },
        "security": [],
        "summary": "Readiness (headers only)",
        "tags": [
          "health"
        ]
      }
    },
    "/requests": {
      "get": {
        "description": "A person sees their own requests (`mine=true`, the default), or with `to_approve=true` those waiting for them (pending by default; not their own, not already approved by them). Admins list all requests. Newest first, paged with `next`.",
        "operationId": "listRequests",
        "parameters": [
          {
            "description": "`true`: only the caller's requests.",
            "in": "query",
            "name": "mine",
            "required": false,
            "schema": {
              "type": "boolean"
            }
          },
          {
            "description": "`true`: requests the caller may approve (people only; 400 for admins).",
            "in": "query",
            "name": "to_approve",
            "required": false,
            "schema": {
              "type": "boolean"
            }
          },
          {
            "in": "query",
            "name": "state",
            "required": false,
            "schema": {
              "enum": [
                "pending",
                "approved",
                "denied",
                "cancelled",
                "expired"
              ],
              "type": "string"
            }
          },
          {
            "$ref": "#/components/parameters/Limit200"
          },
          {
            "$ref": "#/components/parameters/Cursor"
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AccessRequestPage"
                }
              }
            },
            "description": "One page of requests.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/ActivationBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/ActivationUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/ActivationForbidden"
          },
          "503": {
            "$ref": "#/components/responses/ActivationUnavailable"
          }
        },
        "security": [
          {
            "identityToken": []
          },
          {
            "adminToken": []
          }
        ],
        "summary": "List approval requests",
        "tags": [
          "requests"
        ]
      }
    },
    "/requests/{id}": {
      "get": {
        "description": "For the requester, approvers of the role and admins. With `wait`, answers the moment the request changes (a stage's approval, an escalation, the decision), or when `wait` has passed: poll again while it is `pending`.",
        "operationId": "getRequest",
        "parameters": [
          {
            "$ref": "#/components/parameters/RequestID"
          },
          {
            "description": "How long to wait for a change: a duration of at most 60 s (`30s`, `60`, `1m`).",
            "in": "query",
            "name": "wait",
            "required": false,
            "schema": {
              "pattern": "^\\s*[0-9]+[smhd]?\\s*$",
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AccessRequest"
                }
              }
            },
            "description": "The request.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/ActivationBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/ActivationUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/ActivationForbidden"
          },
          "404": {
            "$ref": "#/components/responses/ActivationNotFound"
          },
          "503": {
            "$ref": "#/components/responses/ActivationUnavailable"
          }
        },
        "security": [
          {
            "identityToken": []
          },
          {
            "adminToken": []
          }
        ],
        "summary": "One approval request, optionally long-polled",
        "tags": [
          "requests"
        ]
      }
    },
    "/requests/{id}/{action}": {
      "post": {
        "description": "`approve` (approvers of the current stage; people only), `deny` (approvers of any stage, admins), `cancel` (the requester, admins), each with an optional `comment`, answer the request. `review` (approvers of the role other than the holder, admins; `comment` required) acknowledges a break-glass use and answers the activation: `{id}` may be the activation id itself, since a break-glass use has no request, or a request id (its activation is reviewed). Another action is a 404.",
        "operationId": "decideRequest",
        "parameters": [
          {
            "$ref": "#/components/parameters/RequestID"
          },
          {
            "in": "path",
            "name": "action",
            "required": true,
            "schema": {
              "enum": [
                "approve",
                "deny",
                "cancel",
                "review"
              ],
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ActionBody"
              }
            },
            "application/x-www-form-urlencoded": {
              "schema": {
                "$ref": "#/components/schemas/ActionBody"
              }
            }
          },
          "description": "Optional; form-encoded or a JSON object of strings, at most 16 KiB.",
          "required": false
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "anyOf": [
                    {
                      "$ref": "#/components/schemas/AccessRequest"
                    },
                    {
                      "$ref": "#/components/schemas/Activation"
                    }
                  ]
                }
              }
            },
            "description": "approve, deny, cancel: the request; review: the activation.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/ActivationBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/ActivationUnauthorized"
          },
          "403": {
            "$ref": "#/components/responses/ActivationForbidden"
          },
          "404": {
            "$ref": "#/components/responses/ActivationNotFound"
          },
          "409": {
            "$ref": "#/components/responses/ActivationConflict"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "503": {
            "$ref": "#/components/responses/ActivationUnavailable"
          }
        },
        "security": [
          {
            "identityToken": []
          },
          {
            "adminToken": []
          }
        ],
        "summary": "Approve, deny, cancel or review",
        "tags": [
          "requests"
        ]
      }
    },
    "/revoke": {
      "post": {
        "description": "A client revokes a token issued to it. Idempotent: invalid, foreign, unknown or long-expired tokens succeed with nothing to do. Another client's token is a 400 `unauthorized_client`. A store failure is a `server_error`, never a success.",
        "operationId": "revoke",
        "requestBody": {
          "content": {
            "application/x-www-form-urlencoded": {
              "schema": {
                "$ref": "#/components/schemas/RevocationRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "description": "Revoked, or nothing to revoke. No body.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/OAuthBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/OAuthInvalidClient"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "500": {
            "$ref": "#/components/responses/OAuthServerError"
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [
          {
            "clientSecretBasic": []
          },
          {}
        ],
        "summary": "Token revocation (RFC 7009)",
        "tags": [
          "oauth"
        ]
      }
    },
    "/token": {
      "post": {
        "description": "Issues a short-lived JWT access token: `client_credentials` for a service acting for itself, or token exchange of an upstream identity token for a token of one role, under the role's conditional-access rules. Client authentication: `client_secret_basic` (the Authorization header), `client_secret_post` or `private_key_jwt` (body parameters), or none for public clients (token exchange only). `application/x-www-form-urlencoded` only, at most 64 KiB. The token is answered only after its audit entry is durable.",
        "operationId": "token",
        "requestBody": {
          "content": {
            "application/x-www-form-urlencoded": {
              "encoding": {
                "audience": {
                  "explode": true,
                  "style": "form"
                },
                "resource": {
                  "explode": true,
                  "style": "form"
                }
              },
              "schema": {
                "$ref": "#/components/schemas/TokenRequest"
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "example": {
                  "access_token": "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIs...",
                  "expires_in": 300,
                  "scope": "read",
                  "token_type": "Bearer"
                },
                "schema": {
                  "$ref": "#/components/schemas/TokenResponse"
                }
              }
            },
            "description": "The token.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              },
              "Pragma": {
                "$ref": "#/components/headers/Pragma"
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/OAuthBadRequest"
          },
          "401": {
            "$ref": "#/components/responses/OAuthInvalidClient"
          },
          "403": {
            "content": {
              "application/json": {
                "examples": {
                  "access_denied": {
                    "value": {
                      "error": "access_denied",
                      "error_description": "role prod-readonly denied: MFA required: token amr [pwd] has none of [mfa, mca, hwk, swk, otp, sc]"
                    }
                  },
                  "approval_required": {
                    "value": {
                      "error": "approval_required",
                      "error_description": "role payments-admin needs approval (...) before it activates; request req_... is pending",
                      "expires_at": "2026-05-01T11:00:00Z",
                      "request_id": "req_...",
                      "request_uri": "http://127.0.0.1:8080/requests/req_...",
                      "state": "pending"
                    }
                  }
                },
                "schema": {
                  "anyOf": [
                    {
                      "$ref": "#/components/schemas/ApprovalRequiredError"
                    },
                    {
                      "$ref": "#/components/schemas/OAuthError"
                    }
                  ]
                }
              }
            },
            "description": "Token exchange refused: `access_denied` (a condition of the role does not hold, the named request was denied, cancelled or expired, or its activation has ended; the description says which), or `approval_required` (the role needs approval first; the body names the pending request).",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OAuthError"
                }
              }
            },
            "description": "Token exchange (rare): `invalid_request`, the activation of an approved request cannot be found.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "409": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OAuthError"
                }
              }
            },
            "description": "Token exchange (rare): `invalid_request`, the approval request could not be created or the role's plan changed under it; try again.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControlNoStore"
              }
            }
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "500": {
            "$ref": "#/components/responses/OAuthServerError"
          },
          "503": {
            "$ref": "#/components/responses/TemporarilyUnavailable"
          }
        },
        "security": [
          {
            "clientSecretBasic": []
          },
          {}
        ],
        "summary": "Token endpoint (RFC 6749 §3.2, RFC 8693)",
        "tags": [
          "oauth"
        ]
      }
    }
  },
  "servers": [
    {
      "description": "`tessera serve` defaults",
      "url": "http://127.0.0.1:8080"
    }
  ],
  "tags": [
    {
      "description": "Token, introspection and revocation endpoints.",
      "name": "oauth"
    },
    {
      "description": "Metadata and public keys.",
      "name": "discovery"
    },
    {
      "description": "The public audit checkpoint.",
      "name": "audit"
    },
    {
      "description": "Liveness and readiness.",
      "name": "health"
    },
    {
      "description": "Approval requests (people with an identity token, admins).",
      "name": "requests"
    },
    {
      "description": "Access windows (people with an identity token, admins).",
      "name": "activations"
    },
    {
      "description": "The admin API: admin tokens only.",
      "name": "admin"
    }
  ]
}
"""#
}
