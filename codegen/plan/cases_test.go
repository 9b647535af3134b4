package plan_test

type planCase struct {
	desc      string
	name      string
	entities  []string
	relations []string
}

// planCases are descriptions written the ways people write, with the spec
// Rules must plan for each: entities as "book/books: title string!, isbn
// string unique, done boolean=false" (! = required) and relations as
// "loan.book_id -> book!" (! = required).
var planCases = append(sentenceCases, documentCases...)

// sentenceCases are descriptions of one or a few sentences.
var sentenceCases = []planCase{
	{
		desc: "a library API with books (title, author, year) and loans",
		name: "library",
		entities: []string{
			"book/books: title string, author string, year integer",
			"loan/loans: loaned_at timestamp!, due_date date, returned boolean",
		},
		relations: []string{"loan.book_id -> book"},
	},
	{
		desc: "Books have a title, an author and a published date",
		name: "books",
		entities: []string{
			"book/books: title string, author string, published_date date",
		},
	},
	{
		desc: "each task has a due date and a done flag",
		name: "tasks",
		entities: []string{
			"task/tasks: due_date date, done boolean",
		},
	},
	{
		desc: "customers have many orders; an order belongs to a customer",
		name: "customers",
		entities: []string{
			"customer/customers: name string!, email email",
			"order/orders: total decimal, status string",
		},
		relations: []string{"order.customer_id -> customer!"},
	},
	{
		desc: "track expenses: amount, category, note, spent on",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal, category string, note text, spent_on timestamp",
		},
	},
	{
		desc: "A todo app with tasks (title, due date, done)",
		name: "todo",
		entities: []string{
			"task/tasks: title string, due_date date, done boolean",
		},
	},
	{
		desc: "An expense tracker",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal!, spent_on date, notes text",
		},
	},
	{
		desc: "I want a recipe manager. Recipes have a title, ingredients, instructions and a prep time in minutes. Each recipe belongs to a category.",
		name: "recipe_manager",
		entities: []string{
			"recipe/recipes: title string, ingredients text, instructions text, prep_time_minutes integer",
			"category/categories: name string!",
		},
		relations: []string{"recipe.category_id -> category!"},
	},
	{
		desc: "A blog:\n- posts: title, body, published at\n- comments (body, author email)\n- tags\nPosts have many comments.",
		name: "blog",
		entities: []string{
			"post/posts: title string, body text, published_at timestamp",
			"comment/comments: body text, author_email email",
			"tag/tags: name string!",
		},
		relations: []string{"comment.post_id -> post"},
	},
	{
		desc: "Entities:\n- Book\n  - title (required)\n  - isbn (unique)\n  - price as decimal\n- Author\n  - name\n  - email\nAuthors have many books.",
		name: "books",
		entities: []string{
			"book/books: title string!, isbn string unique, price decimal",
			"author/authors: name string, email email",
		},
		relations: []string{"book.author_id -> author"},
	},
	{
		desc: "A CRM where sales reps manage contacts and deals. Contacts have a name, email, phone number and company. Deals have a title, value, stage and close date; each deal belongs to a contact.",
		name: "crm",
		entities: []string{
			"sales_rep/sales_reps: name string!",
			"contact/contacts: name string, email email, phone_number string, company string",
			"deal/deals: title string, value decimal, stage string, close_date date",
		},
		relations: []string{"contact.sales_rep_id -> sales_rep", "deal.sales_rep_id -> sales_rep", "deal.contact_id -> contact!"},
	},
	{
		desc: "Build me a simple inventory system with products (name, sku, price, quantity in stock) and suppliers (name, email, website). Each product belongs to a supplier.",
		name: "inventory",
		entities: []string{
			"product/products: name string, sku string, price decimal, quantity_in_stock integer",
			"supplier/suppliers: name string, email email, website url",
		},
		relations: []string{"product.supplier_id -> supplier!"},
	},
	{
		desc: "people and their pets. Each person has a name and a birthday. Pets have a name, species and age. A pet belongs to a person.",
		name: "people",
		entities: []string{
			"person/people: name string, birthday date",
			"pet/pets: name string, species string, age integer",
		},
		relations: []string{"pet.person_id -> person!"},
	},
	{
		desc: "An app for a gym: members (name, email, joined on), classes (title, starts at, capacity) and bookings. A booking belongs to a member and a class.",
		name: "gym",
		entities: []string{
			"member/members: name string, email email, joined_on timestamp",
			"class/classes: title string, starts_at timestamp, capacity integer",
			"booking/bookings: starts_at timestamp, notes text",
		},
		relations: []string{"booking.member_id -> member!", "booking.class_id -> class!"},
	},
	{
		desc: "Users can write posts. Posts have a title and body. Users can leave comments on posts.",
		name: "users",
		entities: []string{
			"user/users: name string!, email email",
			"post/posts: title string, body text",
			"comment/comments: body text!",
		},
		relations: []string{"post.user_id -> user", "comment.user_id -> user", "comment.post_id -> post"},
	},
	{
		desc: "for each customer, track invoices (number, amount, due date, paid)",
		name: "customers",
		entities: []string{
			"customer/customers: name string!, email email",
			"invoice/invoices: number integer, amount decimal, due_date date, paid boolean",
		},
		relations: []string{"invoice.customer_id -> customer"},
	},
	{
		desc: "We need an API to manage boxes, categories and statuses",
		name: "box_manager",
		entities: []string{
			"box/boxes: name string!",
			"category/categories: name string!",
			"status/statuses: name string!",
		},
	},
	{
		desc: "A movie watchlist with movies (title, year, rating, watched flag)",
		name: "movie_watchlist",
		entities: []string{
			"movie/movies: title string, year integer, rating integer, watched boolean",
		},
	},
	{
		desc: "A 🚀 rocket launch tracker with launches (rocket name, launch date, success?) 🔥",
		name: "rocket_launch_tracker",
		entities: []string{
			"launch/launches: rocket_name string, launch_date date, success boolean",
		},
	},
	{
		desc: "Café menu app with dishes (name, price, vegetarian) and categories. Each dish has a category.",
		name: "cafe_menu",
		entities: []string{
			"dish/dishes: name string, price decimal, vegetarian boolean",
			"category/categories: name string!",
		},
		relations: []string{"dish.category_id -> category"},
	},
	{
		desc: "Employees have a name, email (unique), salary and hire date. Departments have many employees. Name and email are required.",
		name: "employees",
		entities: []string{
			"employee/employees: name string!, email email! unique, salary decimal, hire_date date",
			"department/departments: name string!",
		},
		relations: []string{"employee.department_id -> department"},
	},
	{
		desc: "A project management tool. Projects have a name, description and deadline. Tasks have a title, status, priority and estimated hours. A task belongs to a project. Tasks can be assigned to a person.",
		name: "project_management",
		entities: []string{
			"project/projects: name string, description text, deadline date",
			"task/tasks: title string, status string, priority string, estimated_hours integer",
			"person/people: name string!, email email",
		},
		relations: []string{"task.project_id -> project!", "task.person_id -> person"},
	},
	{
		desc: "an app to track expenses: amount, date",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal, date date",
		},
	},
	{
		desc: "An app for a bakery with products and orders",
		name: "bakery",
		entities: []string{
			"product/products: name string!, price decimal",
			"order/orders: total decimal, status string",
		},
		relations: []string{"order.product_id -> product"},
	},
	{
		desc: "A bookmark manager: links have a url, title, tags and a read flag. Users can have many links.",
		name: "bookmark_manager",
		entities: []string{
			"link/links: url url, title string, tags string, read boolean",
			"user/users: name string!, email email",
		},
		relations: []string{"link.user_id -> user"},
	},
	{
		desc: "A helpdesk where customers open tickets. Tickets have a subject, description, priority and status (default open). Agents can reply to tickets.",
		name: "helpdesk",
		entities: []string{
			"customer/customers: name string!, email email",
			"ticket/tickets: subject string, description text, priority string, status string=\"open\"",
			"agent/agents: name string!",
		},
		relations: []string{"ticket.customer_id -> customer"},
	},
	{
		desc: "The app needs to store recipes (title, servings, cook time) with ingredients. Every ingredient belongs to a recipe and has a name and quantity.",
		name: "recipes",
		entities: []string{
			"recipe/recipes: title string, servings integer, cook_time integer",
			"ingredient/ingredients: name string, quantity integer",
		},
		relations: []string{"ingredient.recipe_id -> recipe!"},
	},
	{
		desc: "1. Authors: name, bio, website\n2. Books: title, isbn, published on, price\n3. Reviews: rating, comment, reviewer email\nEach book belongs to an author. A book has many reviews.",
		name: "authors",
		entities: []string{
			"author/authors: name string, bio text, website url",
			"book/books: title string, isbn string, published_on timestamp, price decimal",
			"review/reviews: rating integer, comment text, reviewer_email email",
		},
		relations: []string{"book.author_id -> author!", "review.book_id -> book"},
	},
	{
		desc: "Event planning app. Events have a name, a location, starts at, ends at and a max attendees count. Attendees (name, email) register for events; a registration belongs to an event and an attendee.",
		name: "event_planning",
		entities: []string{
			"event/events: name string, location string, starts_at timestamp, ends_at timestamp, max_attendees_count integer",
			"attendee/attendees: name string, email email",
			"registration/registrations: registered_at timestamp",
		},
		relations: []string{"registration.event_id -> event!", "registration.attendee_id -> attendee!"},
	},
	{
		desc: "a ToDo list",
		name: "todo_list",
		entities: []string{
			"task/tasks: title string!, done boolean, due_date date",
		},
	},
	{
		desc: "Make a habit tracker with search and analytics",
		name: "habit_tracker",
		entities: []string{
			"habit/habits: name string!, done boolean",
		},
	},
	{
		desc: "A fleet management system with vehicles (plate number, make, model, year, mileage) and drivers (name, license number, phone). Trips belong to a vehicle and a driver and have a distance in km, started at and ended at.",
		name: "fleet_management",
		entities: []string{
			"vehicle/vehicles: plate_number string, make string, model string, year integer, mileage decimal",
			"driver/drivers: name string, license_number string, phone string",
			"trip/trips: distance_km decimal, started_at timestamp, ended_at timestamp",
		},
		relations: []string{"trip.vehicle_id -> vehicle!", "trip.driver_id -> driver!"},
	},
	{
		desc: "An invoicing API: clients have many invoices; invoices have many line items (description, quantity, unit price); each invoice has a number (unique), an issue date, a due date and a paid flag.",
		name: "invoicing",
		entities: []string{
			"client/clients: name string!, email email",
			"invoice/invoices: number integer unique, issue_date date, due_date date, paid boolean",
			"line_item/line_items: description text, quantity integer, unit_price decimal",
		},
		relations: []string{"invoice.client_id -> client", "line_item.invoice_id -> invoice"},
	},
	{
		desc: "Inventory: items have a name, SKU, quantity and price; warehouses have a name and address; each item belongs to a warehouse.",
		name: "inventory",
		entities: []string{
			"item/items: name string, sku string, quantity integer, price decimal",
			"warehouse/warehouses: name string, address text",
		},
		relations: []string{"item.warehouse_id -> warehouse!"},
	},
	{
		desc: "a note-taking app. Notes have a title, content and tags. Notebooks have many notes.",
		name: "note_taking",
		entities: []string{
			"note/notes: title string, content text, tags string",
			"notebook/notebooks: name string!",
		},
		relations: []string{"note.notebook_id -> notebook"},
	},
	{
		desc: "Todo app\n\n* Task: title (required), notes, due date, done (default false)\n* Project: name",
		name: "todo",
		entities: []string{
			"task/tasks: title string!, notes text, due_date date, done boolean=false",
			"project/projects: name string",
		},
	},
	{
		desc: "I need to keep track of my workouts. Each workout has a date, type, duration in minutes and calories.",
		name: "workout_tracker",
		entities: []string{
			"workout/workouts: date date, kind string, duration_minutes integer, calories integer",
		},
	},
	{
		desc: "Restaurant reservations: tables (number, seats) and reservations (guest name, phone, party size, reserved for). A reservation belongs to a table.",
		name: "restaurant_reservations",
		entities: []string{
			"table/tables: number integer, seats integer",
			"reservation/reservations: guest_name string, phone string, party_size integer, reserved string",
		},
		relations: []string{"reservation.table_id -> table!"},
	},
	{
		desc: "Pets: name, species, birth date. Vets: name, phone. Visits: date, reason, cost; a visit belongs to a pet and a vet.",
		name: "pets",
		entities: []string{
			"pet/pets: name string, species string, birth_date date",
			"vet/vets: name string, phone string",
			"visit/visits: date date, reason string, cost decimal",
		},
		relations: []string{"visit.pet_id -> pet!", "visit.vet_id -> vet!"},
	},
	{
		desc: "A school app with teachers, classes and students. Each class has a teacher. Students have a name and grade.",
		name: "school",
		entities: []string{
			"teacher/teachers: name string!, email email",
			"class/classes: name string!",
			"student/students: name string, grade string",
		},
		relations: []string{"class.teacher_id -> teacher"},
	},
	{
		desc: "Customers (name, email), Products (name, price), Orders (date, total). An order belongs to a customer. Orders have many order items; an order item belongs to a product and has a quantity.",
		name: "customers",
		entities: []string{
			"customer/customers: name string, email email",
			"product/products: name string, price decimal",
			"order/orders: date date, total decimal",
			"order_item/order_items: quantity integer",
		},
		relations: []string{"order.customer_id -> customer!", "order_item.order_id -> order", "order_item.product_id -> product!"},
	},
	{
		desc: "Time tracking: projects and time entries (started at, ended at, description, billable). Each time entry belongs to a project.",
		name: "time_tracking",
		entities: []string{
			"project/projects: name string!, description text",
			"time_entry/time_entries: started_at timestamp, ended_at timestamp, description text, billable boolean",
		},
		relations: []string{"time_entry.project_id -> project!"},
	},
	{
		desc: "a url shortener: links with a target url, a slug (unique) and a click count",
		name: "url_shortener",
		entities: []string{
			"link/links: target_url url, slug string unique, click_count integer",
		},
	},
	{
		desc: "Manage employees and departments. An employee belongs to a department. Employees have first name, last name, email, hired on, salary, and is_manager.",
		name: "employee_manager",
		entities: []string{
			"employee/employees: first_name string, last_name string, email email, hired_on timestamp, salary decimal, is_manager boolean",
			"department/departments: name string!",
		},
		relations: []string{"employee.department_id -> department!"},
	},
	{
		desc: "Books have a title, an isbn and a price. Each book must have a unique isbn. Titles are required.",
		name: "books",
		entities: []string{
			"book/books: title string!, isbn string! unique, price decimal",
		},
	},
	{
		desc: "Every book must have a title and an author",
		name: "books",
		entities: []string{
			"book/books: title string!, author string!",
		},
	},
	{
		desc: "users: email (required, unique), name (optional), age",
		name: "users",
		entities: []string{
			"user/users: email email! unique, name string, age integer",
		},
	},
	{
		desc: "Members have a name and an email; the email must be unique and the name is mandatory.",
		name: "members",
		entities: []string{
			"member/members: name string!, email email unique",
		},
	},
	{
		desc: "A book's title is required. Books: title, year.",
		name: "books",
		entities: []string{
			"book/books: title string!, year integer",
		},
	},
	{
		desc: "Tasks have a title and a done flag that defaults to false, a priority defaulting to 3 and a status defaulting to \"open\"",
		name: "tasks",
		entities: []string{
			"task/tasks: title string, done boolean=false, priority integer=3, status string=\"open\"",
		},
	},
	{
		desc: "products (name, price default 9.99, in stock default yes, rating default 5)",
		name: "products",
		entities: []string{
			"product/products: name string, price decimal=9.99, in_stock boolean=true, rating integer=5",
		},
	},
	{
		desc: "Students take courses. A course has a title, code (unique) and credits.",
		name: "courses",
		entities: []string{
			"course/courses: title string, code string unique, credits integer",
			"student/students: name string!, email email",
			"enrollment/enrollments: enrolled_on date, grade string",
		},
		relations: []string{"enrollment.student_id -> student!", "enrollment.course_id -> course!"},
	},
	{
		desc: "Customers rent cars (make, model, daily rate)",
		name: "cars",
		entities: []string{
			"car/cars: make string, model string, daily_rate decimal",
			"customer/customers: name string!, email email",
			"rental/rentals: rented_at timestamp!, returned_at timestamp",
		},
		relations: []string{"rental.customer_id -> customer!", "rental.car_id -> car!"},
	},
	{
		desc: "Employees attend trainings and meetings",
		name: "trainings",
		entities: []string{
			"training/trainings: name string!",
			"meeting/meetings: title string!, starts_at timestamp",
			"employee/employees: name string!, email email",
			"training_attendance/training_attendances: attended_on date",
			"meeting_attendance/meeting_attendances: attended_on date",
		},
		relations: []string{"training_attendance.employee_id -> employee!", "training_attendance.training_id -> training!", "meeting_attendance.employee_id -> employee!", "meeting_attendance.meeting_id -> meeting!"},
	},
	{
		desc: "Users can follow users",
		name: "users",
		entities: []string{
			"user/users: name string!, email email",
		},
	},
}
