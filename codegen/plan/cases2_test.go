package plan_test

// documentCases are longer descriptions, lists and hostile input.
var documentCases = []planCase{
	{
		desc: "Build a simple CRUD API for products with name, description, price and in stock.",
		name: "products",
		entities: []string{
			"product/products: name string, description text, price decimal, in_stock boolean",
		},
	},
	{
		desc: "Polls with questions and options; each option belongs to a question and has a votes count",
		name: "polls",
		entities: []string{
			"poll/polls: title string!",
			"question/questions: title string!, body text!",
			"option/options: votes_count integer",
		},
		relations: []string{"question.poll_id -> poll", "option.poll_id -> poll", "option.question_id -> question!"},
	},
	{
		desc: "A podcast app with shows and episodes. Each show has many episodes. Episodes have a title, audio url, duration and published at.",
		name: "podcast",
		entities: []string{
			"show/shows: title string!",
			"episode/episodes: title string, audio_url url, duration integer, published_at timestamp",
		},
		relations: []string{"episode.show_id -> show"},
	},
	{
		desc: "A real estate listing site: properties (address, price, bedrooms, bathrooms, square feet, listed on) and agents (name, phone, email). Properties belong to agents.",
		name: "real_estate_listing",
		entities: []string{
			"property/properties: address text, price decimal, bedrooms integer, bathrooms integer, square_feet integer, listed_on timestamp",
			"agent/agents: name string, phone string, email email",
		},
		relations: []string{"property.agent_id -> agent!"},
	},
	{
		desc: "PERSONAL FINANCE APP WITH ACCOUNTS AND TRANSACTIONS. TRANSACTIONS HAVE AN AMOUNT, DATE, PAYEE AND MEMO.",
		name: "finance",
		entities: []string{
			"account/accounts: name string!",
			"transaction/transactions: amount decimal, date date, payee string, memo text",
		},
	},
	{
		desc: "  books  ,  authors  ",
		name: "books",
		entities: []string{
			"book/books: title string!, author string, year integer",
			"author/authors: name string!, email email",
		},
	},
	{
		desc: "Über-cool Müller app with Bücher (Titel, Jahr)",
		name: "uber_muller",
		entities: []string{
			"bucher/buchers: titel string, jahr string",
		},
	},
	{
		desc: "a wiki with pages (title, body) and a search",
		name: "wiki",
		entities: []string{
			"page/pages: title string, body text",
		},
	},
	{
		desc: "a store with categories, products (name, price, stock count, image) and orders. Products belong to a category. Customers place orders.",
		name: "store",
		entities: []string{
			"category/categories: name string!",
			"product/products: name string, price decimal, stock_count integer, image url",
			"order/orders: total decimal, status string",
			"customer/customers: name string!, email email",
		},
		relations: []string{"product.category_id -> category!", "order.customer_id -> customer"},
	},
	{
		desc: "Library. Members: name, email (required, unique), member since. Books: title, author, ISBN (unique), copies. Loans: borrowed on, due on, returned on. A loan belongs to a member and a book.",
		name: "library",
		entities: []string{
			"member/members: name string, email email! unique, member_since date",
			"book/books: title string, author string, isbn string unique, copies integer",
			"loan/loans: borrowed_on timestamp, due_on timestamp, returned_on timestamp",
		},
		relations: []string{"loan.member_id -> member!", "loan.book_id -> book!"},
	},
	{
		desc: "Job board with companies (name, website, logo), jobs (title, description, salary, remote?, posted at) and applications (name, email, resume url, cover letter). Jobs belong to companies; applications belong to jobs.",
		name: "job_board",
		entities: []string{
			"company/companies: name string, website url, logo url",
			"job/jobs: title string, description text, salary decimal, remote boolean, posted_at timestamp",
			"application/applications: name string, email email, resume_url url, cover_letter string",
		},
		relations: []string{"job.company_id -> company!", "application.job_id -> job!"},
	},
	{
		desc: "Users have an email (unique, required), a display name, and an is_admin flag",
		name: "users",
		entities: []string{
			"user/users: email email! unique, display_name string, is_admin boolean",
		},
	},
	{
		desc: "Surveys have many questions; each question has a text, a type and a required flag; answers belong to questions and have a value.",
		name: "surveys",
		entities: []string{
			"survey/surveys: title string!",
			"question/questions: text text, kind string, required boolean",
			"answer/answers: value decimal",
		},
		relations: []string{"question.survey_id -> survey", "answer.question_id -> question!"},
	},
	{
		desc: "func type select (a, b, c)",
		name: "func_type_selects",
		entities: []string{
			"func_type_select/func_type_selects: b string, c string",
		},
	},
	{
		desc: "Products have a name, a price as money, a weight (number), a sku: string and stock count (integer); boxes have a label; statuses have a name; categories have a name and a parent id",
		name: "products",
		entities: []string{
			"product/products: name string, price decimal, weight decimal, sku string, stock_count integer",
			"box/boxes: label string",
			"status/statuses: name string",
			"category/categories: name string, parent_id string",
		},
	},
	{
		desc: "Orders: placed at, total, status (default pending), gift (default no)",
		name: "orders",
		entities: []string{
			"order/orders: placed_at timestamp, total decimal, status string=\"pending\", gift boolean=false",
		},
	},
	{
		desc: "Each order has a customer and a total. Customers have a name.",
		name: "orders",
		entities: []string{
			"order/orders: total decimal",
			"customer/customers: name string",
		},
		relations: []string{"order.customer_id -> customer"},
	},
	{
		desc: "A simple app to manage my book collection",
		name: "book_manager",
		entities: []string{
			"book/books: title string!, author string, year integer",
		},
	},
	{
		desc: "an app where I can log my daily mood with a note",
		name: "daily_mood_log",
		entities: []string{
			"daily_mood/daily_moods: note text",
		},
	},
	{
		desc: "I want to track my running: distance, time, date",
		name: "running_tracker",
		entities: []string{
			"running/runnings: distance decimal, time timestamp, date date",
		},
	},
	{
		desc: "Contacts app: name, phone, email, birthday",
		name: "contacts",
		entities: []string{
			"contact/contacts: name string, phone string, email email, birthday date",
		},
	},
	{
		desc: "A todo list where tasks have a title, a priority (1-5) and can be marked done",
		name: "todo_list",
		entities: []string{
			"task/tasks: title string, priority integer, done boolean",
		},
	},
	{
		desc: "Inventory of tools lent to neighbours: tool name, borrower, lent on, returned",
		name: "tools",
		entities: []string{
			"tool/tools: tool_name string, borrower string, lent_on timestamp, returned boolean",
		},
	},
	{
		desc: "A CRM. Companies have many contacts. Contacts have a name and email. Deals belong to companies and have an amount and a stage.",
		name: "crm",
		entities: []string{
			"company/companies: name string!",
			"contact/contacts: name string, email email",
			"deal/deals: amount decimal, stage string",
		},
		relations: []string{"contact.company_id -> company", "deal.company_id -> company!"},
	},
	{
		desc: "Simple guestbook: messages with a name, message and created time",
		name: "guestbook",
		entities: []string{
			"message/messages: name string, message text, created_time timestamp",
		},
	},
	{
		desc: "A workout log: exercises (name, muscle group) and sets (reps, weight, exercise)",
		name: "workout_log",
		entities: []string{
			"exercise/exercises: name string, muscle_group string",
			"set/sets: reps integer, weight decimal",
		},
		relations: []string{"set.exercise_id -> exercise"},
	},
	{
		desc: "a movie database with movies, actors and directors. Movies have a title, release year and genre. Each movie has a director.",
		name: "movie",
		entities: []string{
			"movie/movies: title string, release_year integer, genre string",
			"actor/actors: name string!",
			"director/directors: name string!",
		},
		relations: []string{"movie.director_id -> director"},
	},
	{
		desc: "Library management: books, members, loans",
		name: "library_management",
		entities: []string{
			"book/books: title string!, author string, year integer",
			"member/members: name string!, email email",
			"loan/loans: loaned_at timestamp!, due_date date, returned boolean",
		},
		relations: []string{"loan.book_id -> book", "loan.member_id -> member"},
	},
	{
		desc: "Build an api for tracking bugs. Bugs have title, description, severity, status, reported by, assigned to and fixed flag.",
		name: "bug_tracker",
		entities: []string{
			"bug/bugs: title string, description text, severity string, status string, reported_by string, assigned string, fixed boolean",
		},
	},
	{
		desc: "A hotel booking system with rooms (number, type, price per night), guests (name, email, phone) and bookings (check in date, check out date). Bookings belong to rooms and guests.",
		name: "hotel_booking",
		entities: []string{
			"room/rooms: number integer, kind string, price_per_night decimal",
			"guest/guests: name string, email email, phone string",
			"booking/bookings: check_in_date date, check_out_date date",
		},
		relations: []string{"booking.room_id -> room!", "booking.guest_id -> guest!"},
	},
	{
		desc: "A marketplace where sellers list products and buyers place orders",
		name: "marketplace",
		entities: []string{
			"seller/sellers: name string!",
			"product/products: name string!, price decimal",
			"buyer/buyers: name string!",
			"order/orders: total decimal, status string",
		},
		relations: []string{"product.seller_id -> seller", "order.buyer_id -> buyer"},
	},
	{
		desc: "Expense tracker. Each expense has an amount, a category and a date. Categories have a name and a monthly budget.",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal, date date",
			"category/categories: name string, monthly_budget decimal",
		},
		relations: []string{"expense.category_id -> category"},
	},
	{
		desc: "Books:\ntitle (required)\nauthor\npublished on\n\nAuthors:\nname",
		name: "books",
		entities: []string{
			"book/books: title string!, published_on timestamp",
			"author/authors: name string",
		},
		relations: []string{"book.author_id -> author"},
	},
	{
		desc: "# Recipe Book\n\nA place to keep my recipes.\n\n## Entities\n- **Recipe**: title, description, prep time (minutes), servings, difficulty\n- **Ingredient**: name, quantity, unit\n- **Tag**: name (unique)\n\n## Relations\n- A recipe has many ingredients\n- Recipes belong to a tag",
		name: "recipe_book",
		entities: []string{
			"recipe/recipes: title string, description text, prep_time integer, servings integer, difficulty string",
			"ingredient/ingredients: name string, quantity integer, unit string",
			"tag/tags: name string unique",
		},
		relations: []string{"ingredient.recipe_id -> recipe", "recipe.tag_id -> tag!"},
	},
	{
		desc: "Build a REST API for managing a library. It should have books with a title, author, ISBN and publication year. Members have a name and email address. Members can borrow books, and each loan has a borrowed date and a due date.",
		name: "book_manager",
		entities: []string{
			"book/books: title string, author string, isbn string, publication_year integer",
			"member/members: name string, email_address email",
			"loan/loans: borrowed_date date, due_date date",
		},
		relations: []string{"loan.member_id -> member!", "loan.book_id -> book!"},
	},
	{
		desc: "I'd like a simple CRUD for customers & invoices. invoice: number, date, amount, paid (bool). customer: name, email, address.",
		name: "customers",
		entities: []string{
			"customer/customers: name string, email email, address text",
			"invoice/invoices: number integer, date date, amount decimal, paid boolean",
		},
		relations: []string{"invoice.customer_id -> customer"},
	},
	{
		desc: "Create an API for a pizza shop. Pizzas have name, size, price. Orders contain pizzas, have a customer name, phone, address, status, and ordered at.",
		name: "pizza_shop",
		entities: []string{
			"pizza/pizzas: name string, size integer, price decimal",
			"order/orders: customer_name string, phone string, address text, status string, ordered_at timestamp",
		},
		relations: []string{"pizza.order_id -> order"},
	},
	{
		desc: "system for a vet clinic — owners, pets, appointments. owners have name/phone/email; pets have name, species, breed, birth date; appointments have date, reason, notes.",
		name: "vet_clinic",
		entities: []string{
			"owner/owners: name string, phone string, email email",
			"pet/pets: name string, species string, breed string, birth_date date",
			"appointment/appointments: date date, reason string, notes text",
		},
		relations: []string{"appointment.owner_id -> owner", "appointment.pet_id -> pet"},
	},
	{
		desc: "A simple blog. Posts have a title, slug (unique), body and published flag. Comments belong to posts and have an author name and text.",
		name: "blog",
		entities: []string{
			"post/posts: title string, slug string unique, body text, published boolean",
			"comment/comments: author_name string, text text",
		},
		relations: []string{"comment.post_id -> post!"},
	},
	{
		desc: "a to-do app",
		name: "todo",
		entities: []string{
			"task/tasks: title string!, done boolean, due_date date",
		},
	},
	{
		desc: "A time sheet app: employees log hours on projects. Each entry has a date, hours and a description.",
		name: "time_sheet",
		entities: []string{
			"employee/employees: name string!, email email",
			"project/projects: name string!, description text",
			"entry/entries: date date, hours integer, description text",
		},
	},
	{
		desc: "Make an app to organize my vinyl records: artist, album title, year, condition, price paid",
		name: "vinyl_record_organizer",
		entities: []string{
			"vinyl_record/vinyl_records: artist string, album_title string, year integer, condition string, price_paid decimal",
		},
	},
	{
		desc: "Track books I have read, with rating and review",
		name: "book_tracker",
		entities: []string{
			"book/books: rating integer, review text",
		},
	},
	{
		desc: "Tasks with title, description, due date, priority and status; projects with name; a task belongs to a project",
		name: "tasks",
		entities: []string{
			"task/tasks: title string, description text, due_date date, priority string, status string",
			"project/projects: name string",
		},
		relations: []string{"task.project_id -> project!"},
	},
	{
		desc: "An e-commerce backend: products, carts, cart items, orders, customers. A cart belongs to a customer and has many cart items. Each cart item has a product and a quantity.",
		name: "e_commerce",
		entities: []string{
			"product/products: name string!, price decimal",
			"cart/carts: name string!",
			"cart_item/cart_items: quantity integer",
			"order/orders: total decimal, status string",
			"customer/customers: name string!, email email",
		},
		relations: []string{"cart.customer_id -> customer!", "cart_item.cart_id -> cart", "cart_item.product_id -> product"},
	},
	{
		desc: "A user has one profile. Profiles have a bio, avatar url and location.",
		name: "users",
		entities: []string{
			"user/users: name string!, email email",
			"profile/profiles: bio text, avatar_url url, location string",
		},
		relations: []string{"user.profile_id -> profile"},
	},
	{
		desc: "An API for my band: songs (title, key, tempo, lyrics), gigs (venue, date, fee) and setlists. A setlist belongs to a gig.",
		name: "band",
		entities: []string{
			"song/songs: title string, key string, tempo integer, lyrics text",
			"gig/gigs: venue string, date date, fee decimal",
			"setlist/setlists: name string!",
		},
		relations: []string{"setlist.gig_id -> gig!"},
	},
	{
		desc: "Garden planner: beds (name, size), plants (name, sowing date, harvest date) — each plant belongs to a bed.",
		name: "garden_planner",
		entities: []string{
			"bed/beds: name string, size integer",
			"plant/plants: name string, sowing_date date, harvest_date date",
		},
		relations: []string{"plant.bed_id -> bed!"},
	},
	{
		desc: "A support ticket system. Each ticket has a title, description, status and priority, and belongs to a customer. Customers have a name, email and company.",
		name: "support_ticket",
		entities: []string{
			"ticket/tickets: title string, description text, status string, priority string",
			"customer/customers: name string, email email, company string",
		},
		relations: []string{"ticket.customer_id -> customer!"},
	},
	{
		desc: "A tiny app for my cats: name, breed, birthday, weight in kg, vaccinated?",
		name: "cats",
		entities: []string{
			"cat/cats: name string, breed string, birthday date, weight_kg decimal, vaccinated boolean",
		},
	},
	{
		desc: "An application to manage conferences, talks and speakers where each talk belongs to a conference and a speaker.",
		name: "conference_manager",
		entities: []string{
			"conference/conferences: name string!",
			"talk/talks: name string!",
			"speaker/speakers: name string!",
		},
		relations: []string{"talk.conference_id -> conference!", "talk.speaker_id -> speaker!"},
	},
	{
		desc: "Todo app with lists and items. Lists have a name. Items have text, done, and due date. Each item belongs to a list.",
		name: "todo",
		entities: []string{
			"list/lists: name string",
			"item/items: text text, done boolean, due_date date",
		},
		relations: []string{"item.list_id -> list!"},
	},
	{
		desc: "A simple app for tracking my car's fuel: date, liters, price per liter, odometer",
		name: "car_fuels",
		entities: []string{
			"car_fuel/car_fuels: date date, liters decimal, price_per_liter decimal, odometer integer",
		},
	},
	{
		desc: "Create an issue tracker similar to GitHub: repositories, issues, labels and comments",
		name: "issue_tracker",
		entities: []string{
			"repository/repositories: name string!",
			"issue/issues: title string!, description text, status string",
			"label/labels: name string!",
			"comment/comments: body text!",
		},
	},
	{
		desc: "App for booking meeting rooms. Rooms: name, capacity, floor. Bookings: room, organizer email, start time, end time, title.",
		name: "room_booking",
		entities: []string{
			"room/rooms: name string, capacity integer, floor integer",
			"booking/bookings: organizer_email email, start_time timestamp, end_time timestamp, title string",
		},
		relations: []string{"booking.room_id -> room"},
	},
}
